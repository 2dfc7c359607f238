"""Files in an agent's prompt and the three file tools, against a real migrated SQLite
file: folders, files, chunks and views are rows, as the folder API leaves them."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.memory import directories
from engram.memory.file_grep import grep_files
from engram.memory.file_search import semantic_search_files
from engram.memory.file_tools import FILE_TOOL_SCHEMAS, open_files
from engram.memory.tool_context import ToolContext, ToolFailure
from engram.ops.file_tools import sync_file_tools
from engram.runtime.context import compile_context
from engram.runtime.window import Window
from engram.store import file_views, passages, tools
from engram.store import tables as t
from engram.store.vector_sources import MESSAGES
from engram.store.vectors import VectorIndex
from tests.support.store import session_with_agent

EMBEDDING = {"embedding_model": "test-model", "embedding_dim": 3}
MANUAL = "\n".join(
    [
        "Pump manual",
        "",
        "Chapter 1: setup",
        "Bleed the air valve before the first start.",
        "The red lever locks the housing.",
        "Chapter 2: care",
        "Replace the gasket every 400 hours of running.",
    ]
)
NOTES = "Visitor notes\nThe gate code for the north yard is 7-4-1-9.\nBring boots."


@dataclass
class _Embedder:
    handle: str = "test/test-model"
    dim: int = 3

    async def embed(self, texts: list[str]) -> list[list[float]]:
        raise AssertionError("the tools embed nothing themselves")


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with session_with_agent(
        tmp_path / "files.db",
        name="reader",
        system="You read manuals.",
        llm_config={"model": "gpt-4o-mini", "context_window": 128000},
        embedding_config=EMBEDDING,
    ) as session:
        session.add(t.Archive(id="archive-docs", name="docs", embedding_config=EMBEDDING))
        session.flush()
        session.add(
            t.Folder(
                id="source-docs",
                name="docs",
                description="Manuals of the plant",
                instructions="Cite the manual's line numbers.",
                embedding_config=EMBEDDING,
                archive_id="archive-docs",
            )
        )
        session.flush()
        for file_id, name, content in [
            ("file-manual", "manual.txt", MANUAL),
            ("file-notes", "notes.md", NOTES),
        ]:
            session.add(
                t.File(
                    id=file_id,
                    folder_id="source-docs",
                    file_name=name,
                    original_file_name=name,
                    file_size=len(content),
                    content=content,
                    processing_status="completed",
                )
            )
        session.flush()
        chunks = [
            ("file-manual", "Bleed the air valve before the first start.", 4, unit(1, 0, 0)),
            ("file-manual", "Replace the gasket every 400 hours of running.", 7, unit(0, 1, 0)),
            ("file-notes", "The gate code for the north yard is 7-4-1-9.", 2, unit(0, 0, 1)),
        ]
        for file_id, text, line, vector in chunks:
            passage = passages.new_passage(
                archive_id="archive-docs",
                text_=text,
                embedding=vector,
                embedding_handle="test/test-model",
                metadata={"file_id": file_id, "page": None, "first_line": line, "last_line": line},
            )
            passage.file_id = file_id
            session.add(passage)
        session.add(t.AgentFolder(agent_id="agent-1", folder_id="source-docs"))
        file_views.add_folder(session, "agent-1", "source-docs")
        session.flush()
        yield session


def context_of(session: Session, **vectors: list[float]) -> ToolContext:
    agent = session.get(t.Agent, "agent-1")
    assert agent is not None
    return ToolContext(
        session=session,
        agent=agent,
        blocks=[],
        embedder=_Embedder(),
        vectors=VectorIndex(),
        message_vectors=VectorIndex(MESSAGES),
        run_id=None,
        step_id=None,
        message_id=None,
        vectors_by_text=dict(vectors),
    )


def prompt_of(session: Session) -> str:
    agent = session.get(t.Agent, "agent-1")
    assert agent is not None
    return directories.load(session, agent).render()


# ------------------------------------------------------------------------ the prompt section


def test_closed_files_show_by_name_with_the_folder_description_and_instructions(
    session: Session,
) -> None:
    shown = prompt_of(session)

    assert shown.startswith("<directories>") and shown.endswith("</directories>")
    assert "- current_files_open=0\n- max_files_open=5" in shown
    assert '<directory name="docs">' in shown
    assert "<description>Manuals of the plant</description>" in shown
    assert "<instructions>Cite the manual's line numbers.</instructions>" in shown
    assert '<file status="closed" name="docs/manual.txt">' in shown
    assert '<file status="closed" name="docs/notes.md">' in shown
    assert "Bleed the air valve" not in shown


def test_an_open_file_shows_its_window_numbered_from_one(session: Session) -> None:
    result = open_files(context_of(session), [{"file_name": "docs/manual.txt"}])

    shown = prompt_of(session)
    assert result == "Opened docs/manual.txt (lines 1-7 of 7)."
    assert '<file status="open" name="docs/manual.txt">' in shown
    assert "[Viewing file start (out of 7 lines)]\n1: Pump manual\n2: \n3: Chapter 1" in shown
    assert "7: Replace the gasket every 400 hours of running.\n</value>" in shown
    assert "- current_files_open=1" in shown


def test_offset_and_length_open_a_range_of_lines(session: Session) -> None:
    open_files(context_of(session), [{"file_name": "docs/manual.txt", "offset": 3, "length": 2}])

    shown = prompt_of(session)
    assert "[Viewing lines 4 to 5 (out of 7 lines)]\n4: Bleed the air valve" in shown
    assert "5: The red lever locks the housing.\n</value>" in shown
    assert "1: Pump manual" not in shown


def test_a_window_over_the_character_limit_is_cut_at_a_line_and_says_where_to_go_on(
    session: Session,
) -> None:
    agent = session.get(t.Agent, "agent-1")
    assert agent is not None
    agent.per_file_view_window_char_limit = 180
    open_files(context_of(session), [{"file_name": "docs/manual.txt"}])

    shown = prompt_of(session)
    value = shown.split("<value>\n", 1)[1].split("\n</value>", 1)[0]
    assert len(value) <= 180
    assert value.startswith("[Viewing file start (out of 7 lines)]\n1: Pump manual\n2: \n")
    assert value.endswith(
        "[Truncated at 180 characters: open the file with offset=3 to read on from line 4]"
    )
    assert "Bleed" not in value
    assert "- chars_limit=180" in shown


def test_an_agent_without_folders_gets_the_same_prompt_as_before(session: Session) -> None:
    agent = session.get(t.Agent, "agent-1")
    assert agent is not None
    without = compile_context(agent, [], [], Window(start_seq=0), recall_count=0, archival_count=0)
    with_files = compile_context(
        agent,
        [],
        [],
        Window(start_seq=0),
        recall_count=0,
        archival_count=0,
        directories=prompt_of(session),
    )

    assert without.directories_tokens == 0
    assert without.system_prompt() == "\n\n".join([agent.system, without.core_memory])
    assert with_files.system_prompt().startswith(without.system_prompt() + "\n\n<directories>")
    assert with_files.total_tokens == without.total_tokens + with_files.directories_tokens
    assert with_files.directories_tokens > 20


# ------------------------------------------------------------------------------- open_files


def test_opening_past_the_limit_closes_the_least_recently_used_and_says_so(
    session: Session,
) -> None:
    agent = session.get(t.Agent, "agent-1")
    assert agent is not None
    agent.max_files_open = 1
    ctx = context_of(session)
    open_files(ctx, [{"file_name": "docs/manual.txt"}])
    time.sleep(0.01)

    result = open_files(ctx, [{"file_name": "notes.md"}])

    assert result.startswith("Opened docs/notes.md (lines 1-3 of 3).")
    assert "Closed 1 least recently used file(s) to stay within 1 open files: docs/manual.txt" in (
        result
    )
    assert [view.name for view in file_views.views(session, "agent-1", is_open=True)] == [
        "docs/notes.md"
    ]


def test_close_all_others_closes_every_other_open_file(session: Session) -> None:
    ctx = context_of(session)
    open_files(ctx, [{"file_name": "docs/manual.txt"}])

    result = open_files(ctx, [{"file_name": "docs/notes.md"}], close_all_others=True)

    assert "Closed 1 other file(s): docs/manual.txt" in result
    assert '<file status="closed" name="docs/manual.txt">' in prompt_of(session)


def test_moving_a_window_says_what_it_showed_before(session: Session) -> None:
    ctx = context_of(session)
    open_files(ctx, [{"file_name": "docs/manual.txt", "offset": 0, "length": 2}])

    result = open_files(ctx, [{"file_name": "docs/manual.txt", "offset": 5}])

    assert result == "Opened docs/manual.txt (lines 6-7 of 7) (before: lines 1-2)."


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "file_requests must list at least one file"),
        ([{"file_name": "docs/missing.txt"}], "attached files: docs/manual.txt, docs/notes.md"),
        ([{"file_name": "docs/manual.txt", "offset": 40}], "has 7 lines"),
        ([{"file_name": "docs/manual.txt", "offset": -1}], "offset must be a whole number"),
        ([{"file_name": "docs/manual.txt", "length": 0}], "length must be a whole number"),
        ([{"file_name": "docs/manual.txt", "lines": 3}], "unknown field(s) lines"),
        (["docs/manual.txt"], "must be an object"),
        ([{"file_name": f"docs/{n}"} for n in range(6)], "at most 5 are open"),
    ],
)
def test_a_bad_request_is_an_error_the_model_reads_and_opens_nothing(
    session: Session, requests: list[object], message: str
) -> None:
    with pytest.raises(ToolFailure, match=None) as failure:
        open_files(context_of(session), requests)  # type: ignore[arg-type]

    assert message in str(failure.value)
    assert file_views.views(session, "agent-1", is_open=True) == []


# ------------------------------------------------------------------------------- grep_files


def test_grep_finds_a_line_in_a_closed_file_with_context_and_its_number(session: Session) -> None:
    result = grep_files(context_of(session), "gate code", context_lines=1)

    assert result.startswith("Found 1 matches in 1 files (showing matches 1-1 of 1).")
    assert "  - docs/notes.md: 1" in result
    assert "=== docs/notes.md:2 ===\n  1: Visitor notes\n> 2: The gate code" in result
    assert "  3: Bring boots." in result


def test_grep_is_case_insensitive_and_include_narrows_the_files(session: Session) -> None:
    everywhere = grep_files(context_of(session), "THE", context_lines=0)
    in_notes = grep_files(context_of(session), "the", include="*.md", context_lines=0)

    assert "docs/manual.txt" in everywhere and "docs/notes.md" in everywhere
    assert "docs/manual.txt" not in in_notes and "docs/notes.md:2" in in_notes


def test_grep_pages_with_offset(session: Session) -> None:
    ctx = context_of(session)
    manual = session.get(t.File, "file-manual")
    assert manual is not None
    manual.content = "\n".join(f"entry {n}: torque value" for n in range(1, 46))
    session.flush()

    first = grep_files(ctx, "torque", context_lines=0)
    third = grep_files(ctx, "torque", context_lines=0, offset=40)

    assert "(showing matches 1-20 of 45)" in first
    assert "offset=20" in first
    assert "(showing matches 41-45 of 45)" in third
    assert "=== docs/manual.txt:45 ===" in third and "No more matches." in third
    assert "past the last match" in grep_files(ctx, "torque", offset=99)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"pattern": "(unclosed"}, "pattern is not a valid regular expression"),
        ({"pattern": "  "}, "pattern must be a non-empty regular expression"),
        ({"pattern": "x", "include": "[bad"}, "include is not a valid regular expression"),
        ({"pattern": "x", "offset": -3}, "offset must be a whole number"),
        ({"pattern": "x", "context_lines": "two"}, "context_lines must be a whole number"),
    ],
)
def test_a_bad_grep_is_an_error_the_model_reads(
    session: Session, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ToolFailure) as failure:
        grep_files(context_of(session), **arguments)  # type: ignore[arg-type]

    assert message in str(failure.value)


def test_a_pattern_that_backtracks_without_end_is_stopped(session: Session) -> None:
    """Unstopped, this search would take hours: (a|aa)+$ tries every split of the a's."""
    notes = session.get(t.File, "file-notes")
    assert notes is not None
    notes.content = "a" * 80 + "b"
    session.flush()
    started = time.monotonic()

    with pytest.raises(ToolFailure, match="took longer than"):
        grep_files(context_of(session), "(a|aa)+$", include="notes")

    assert time.monotonic() - started < 60  # a loaded machine checks the clock late


# -------------------------------------------------------------------- semantic_search_files


def test_semantic_search_cites_the_file_and_lines_of_the_best_chunk(session: Session) -> None:
    query = "how often to change the seal"
    result = semantic_search_files(context_of(session, **{query: unit(0.1, 1, 0)}), query, 1)

    assert result.startswith("Found 1 passages in 1 files")
    assert "=== docs/manual.txt (line 7, passage #1) ===" in result
    assert "  Replace the gasket every 400 hours of running." in result


def test_semantic_search_falls_back_to_keywords_when_the_query_has_no_vector(
    session: Session,
) -> None:
    result = semantic_search_files(context_of(session), "gate code north yard", 3)

    assert "=== docs/notes.md (line 2, passage #1) ===" in result
    assert "7-4-1-9" in result


def test_a_bad_semantic_search_is_an_error_the_model_reads(session: Session) -> None:
    with pytest.raises(ToolFailure, match="query must be non-empty"):
        semantic_search_files(context_of(session), " ")
    with pytest.raises(ToolFailure, match="limit must be a whole number"):
        semantic_search_files(context_of(session), "gasket", 0)


# ----------------------------------------------------------------------- tools follow folders


def test_the_file_tools_follow_the_agents_folders(session: Session) -> None:
    for name, schema in FILE_TOOL_SCHEMAS.items():
        session.add(
            t.Tool(
                id=f"tool-{name}",
                name=name,
                tool_type="letta_files_core",
                description=schema["description"],
                source_type="python",
                json_schema=schema,
                tags=["letta_files_core"],
            )
        )
    session.flush()

    sync_file_tools(session, "agent-1")
    sync_file_tools(session, "agent-1")
    attached = sorted(tool.name for tool in tools.for_agent(session, "agent-1"))
    file_views.remove_folder(session, "agent-1", "source-docs")
    session.query(t.AgentFolder).filter_by(agent_id="agent-1").delete()
    sync_file_tools(session, "agent-1")

    assert attached == ["grep_files", "open_files", "semantic_search_files"]
    assert tools.for_agent(session, "agent-1") == []


def test_a_page_of_long_matches_is_held_to_the_output_budget(session: Session) -> None:
    manual = session.get(t.File, "file-manual")
    assert manual is not None
    manual.content = "\n".join(f"valve {n} " + "x" * 390 for n in range(1, 41))
    session.flush()

    result = grep_files(context_of(session), "valve", include="manual", context_lines=10)

    assert len(result) < 25_000
    shown = result.count("\n=== docs/manual.txt:")
    assert 1 <= shown < 20
    assert f"(showing matches 1-{shown} of 40)" in result
    assert f"offset={shown}." in result


def test_a_chunk_of_a_paged_file_cites_its_page_and_lines(session: Session) -> None:
    chunk = session.scalars(
        select(t.Passage).where(t.Passage.text.like("Replace the gasket%"))
    ).one()
    chunk.metadata_ = {**(chunk.metadata_ or {}), "page": 3, "first_line": 6, "last_line": 7}
    session.flush()
    query = "seal replacement interval"

    result = semantic_search_files(context_of(session, **{query: unit(0, 1, 0)}), query, 1)

    assert "=== docs/manual.txt (page 3, lines 6-7, passage #1) ===" in result


def test_a_folder_of_another_embedding_model_is_searched_by_keywords(session: Session) -> None:
    folder = session.get(t.Folder, "source-docs")
    assert folder is not None
    folder.embedding_config = {"embedding_model": "other-model", "embedding_dim": 3}
    session.flush()
    query = "gate code"
    # A vector pointing at the gasket chunk: only the keywords can find the gate code.
    ctx = context_of(session, **{query: unit(0, 1, 0)})

    result = semantic_search_files(ctx, query, 3)

    assert result.startswith("Found 1 passages in 1 files")
    assert "=== docs/notes.md (line 2, passage #1) ===" in result
