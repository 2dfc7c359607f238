"""Agents' views of the files of their attached folders: one row per agent and file, open
or closed, with the lines an open file shows and when the agent last looked.

The folder API writes the rows (attach, detach, a file finishing ingestion); the prompt
and the file tools read and move them. At most ``max_open`` files are open per agent:
opening one more closes the least recently used first, and says which it closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engram.ids import new_id
from engram.store import tables as t
from engram.store.tables import utcnow

DEFAULT_MAX_FILES_OPEN = 5
DEFAULT_FILE_WINDOW_CHARS = 15_000
"""Letta's defaults for ``max_files_open`` and ``per_file_view_window_char_limit``."""


@dataclass(frozen=True)
class FileView:
    """One file as an agent sees it; ``name`` is ``<folder name>/<file name>``, the name
    the prompt and the file tools use."""

    row: t.FileAgent
    file: t.File
    folder_name: str

    @property
    def name(self) -> str:
        return f"{self.folder_name}/{self.file.file_name}"


def add_folder(session: Session, agent_id: str, folder_id: str) -> None:
    """Closed views of every finished file of the folder the agent does not see yet."""
    seen = select(t.FileAgent.file_id).where(t.FileAgent.agent_id == agent_id)
    files = session.scalars(
        select(t.File.id).where(
            t.File.folder_id == folder_id,
            t.File.processing_status == "completed",
            t.File.id.not_in(seen),
        )
    ).all()
    session.add_all(_closed(agent_id, file_id, folder_id) for file_id in files)


def remove_folder(session: Session, agent_id: str, folder_id: str) -> None:
    session.execute(
        delete(t.FileAgent).where(
            t.FileAgent.agent_id == agent_id, t.FileAgent.folder_id == folder_id
        )
    )


def add_file(session: Session, file: t.File) -> None:
    """A file that finished ingestion appears, closed, to every agent its folder is
    attached to."""
    agents = session.scalars(
        select(t.AgentFolder.agent_id).where(t.AgentFolder.folder_id == file.folder_id)
    ).all()
    seen = set(
        session.scalars(select(t.FileAgent.agent_id).where(t.FileAgent.file_id == file.id)).all()
    )
    session.add_all(
        _closed(agent_id, file.id, file.folder_id) for agent_id in agents if agent_id not in seen
    )


def views(session: Session, agent_id: str, *, is_open: bool | None = None) -> list[FileView]:
    """The agent's files, most recently used first."""
    query = (
        select(t.FileAgent, t.File, t.Folder.name)
        .join(t.File, t.File.id == t.FileAgent.file_id)
        .join(t.Folder, t.Folder.id == t.FileAgent.folder_id)
        .where(t.FileAgent.agent_id == agent_id)
        .order_by(t.FileAgent.last_accessed_at.desc(), t.FileAgent.id)
    )
    if is_open is not None:
        query = query.where(t.FileAgent.is_open == is_open)
    return [FileView(row, file, name) for row, file, name in session.execute(query).all()]


def open_file(
    session: Session,
    view: t.FileAgent,
    *,
    start_line: int | None,
    end_line: int | None,
    max_open: int,
) -> list[str]:
    """Open (or move the window of) one file; the ids of the files closed to make room,
    least recently used first."""
    view.is_open = True
    view.start_line, view.end_line = start_line, end_line
    view.last_accessed_at = utcnow()
    others = [
        row
        for row in session.scalars(
            select(t.FileAgent)
            .where(
                t.FileAgent.agent_id == view.agent_id,
                t.FileAgent.is_open.is_(True),
                t.FileAgent.id != view.id,
            )
            .order_by(t.FileAgent.last_accessed_at, t.FileAgent.id)
        ).all()
    ]
    closing = others[: max(0, len(others) - (max_open - 1))]
    for row in closing:
        _close(row)
    session.flush()
    return [row.file_id for row in closing]


def close_extra(session: Session, agent_id: str, max_open: int) -> list[str]:
    """Close the agent's least recently used open files past ``max_open``; their ids."""
    opened = session.scalars(
        select(t.FileAgent)
        .where(t.FileAgent.agent_id == agent_id, t.FileAgent.is_open.is_(True))
        .order_by(t.FileAgent.last_accessed_at.desc(), t.FileAgent.id)
    ).all()
    closing = list(opened[max_open:])
    for row in closing:
        _close(row)
    session.flush()
    return [row.file_id for row in closing]


def close_file(view: t.FileAgent) -> None:
    _close(view)


def close_all(session: Session, agent_id: str) -> list[str]:
    """Close every open file of the agent; the ids of those that were open."""
    opened = session.scalars(
        select(t.FileAgent.file_id).where(
            t.FileAgent.agent_id == agent_id, t.FileAgent.is_open.is_(True)
        )
    ).all()
    session.execute(
        update(t.FileAgent)
        .where(t.FileAgent.agent_id == agent_id, t.FileAgent.is_open.is_(True))
        .values(is_open=False, start_line=None, end_line=None)
    )
    return list(opened)


def _close(view: t.FileAgent) -> None:
    view.is_open = False
    view.start_line = view.end_line = None


def _closed(agent_id: str, file_id: str, folder_id: str) -> t.FileAgent:
    return t.FileAgent(
        id=new_id("file_agent"),
        agent_id=agent_id,
        file_id=file_id,
        folder_id=folder_id,
        is_open=False,
        last_accessed_at=utcnow(),
    )
