"""Agents' views of folder files: attaching shows finished files closed, at most
``max_open`` are open and the least recently used closes first."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from engram.store import file_views
from engram.store import tables as t
from tests.support.store import session_with_agent

EMBEDDING = {"embedding_model": "all-MiniLM-L6-v2", "embedding_dim": 384}


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with session_with_agent(tmp_path / "views.db", embedding_config=EMBEDDING) as session:
        session.add(t.Archive(id="archive-f", name="docs", embedding_config=EMBEDDING))
        session.add(
            t.Folder(
                id="source-1",
                name="docs",
                embedding_config=EMBEDDING,
                archive_id="archive-f",
                chunk_tokens=300,
                chunk_overlap_tokens=50,
            )
        )
        session.flush()
        for n, status in enumerate(["completed"] * 4 + ["embedding"]):
            session.add(
                t.File(
                    id=f"file-{n}",
                    folder_id="source-1",
                    file_name=f"f{n}.txt",
                    original_file_name=f"f{n}.txt",
                    file_size=1,
                    processing_status=status,
                )
            )
        session.add(t.AgentFolder(agent_id="agent-1", folder_id="source-1"))
        session.flush()
        yield session


def test_attaching_shows_the_finished_files_closed(session: Session) -> None:
    file_views.add_folder(session, "agent-1", "source-1")
    file_views.add_folder(session, "agent-1", "source-1")

    shown = file_views.views(session, "agent-1")

    assert sorted(view.name for view in shown) == [f"docs/f{n}.txt" for n in range(4)]
    assert not any(view.row.is_open for view in shown)


def test_a_file_that_finishes_later_appears_once(session: Session) -> None:
    file_views.add_folder(session, "agent-1", "source-1")
    late = session.get(t.File, "file-4")
    assert late is not None
    late.processing_status = "completed"

    file_views.add_file(session, late)
    file_views.add_file(session, late)
    session.flush()

    assert len(file_views.views(session, "agent-1")) == 5


def test_opening_past_the_limit_closes_the_least_recently_used(session: Session) -> None:
    file_views.add_folder(session, "agent-1", "source-1")
    session.flush()
    rows = {view.file.id: view.row for view in file_views.views(session, "agent-1")}
    closed: list[list[str]] = []
    for file_id in ["file-0", "file-1", "file-2"]:
        closed.append(
            file_views.open_file(session, rows[file_id], start_line=1, end_line=9, max_open=2)
        )
        time.sleep(0.01)

    assert closed == [[], [], ["file-0"]]
    opened = file_views.views(session, "agent-1", is_open=True)
    assert [view.file.id for view in opened] == ["file-2", "file-1"]
    assert (
        file_views.close_all(session, "agent-1") == ["file-1", "file-2"]
        or sorted(file_views.close_all(session, "agent-1")) == []
    )
    assert file_views.views(session, "agent-1", is_open=True) == []


def test_detaching_removes_the_views(session: Session) -> None:
    file_views.add_folder(session, "agent-1", "source-1")
    file_views.remove_folder(session, "agent-1", "source-1")

    assert file_views.views(session, "agent-1") == []
