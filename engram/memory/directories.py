"""The ``<directories>`` section of an agent's prompt: its attached folders and their files,
open or closed, with the window of each open file.

Loaded in one short read per step, only for agents that have a folder (the caller checks
first), and rendered as text the model reads after its memory blocks. Folders and files
are listed by name, not by last use, so opening a file changes only its own entry and a
provider's prompt cache keeps the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.memory.file_windows import RangeOutsideFile, file_lines, render_window, span_of
from engram.store import file_contents, file_views
from engram.store import tables as t


@dataclass(frozen=True)
class FileShown:
    name: str
    """``<folder name>/<file name>``, the name the file tools take."""
    is_open: bool
    window: str
    """The numbered lines on view; empty for a closed file."""
    view: t.FileAgent
    """The agent's view row: ids and last use, for Letta's ``FileBlock``."""


@dataclass(frozen=True)
class FolderShown:
    name: str
    description: str | None
    instructions: str | None
    files: tuple[FileShown, ...]


@dataclass(frozen=True)
class Directories:
    folders: tuple[FolderShown, ...]
    max_files_open: int
    char_limit: int

    def render(self) -> str:
        return render_directories(self)

    @property
    def files(self) -> list[FileShown]:
        return [file for folder in self.folders for file in folder.files]


def max_files_open(agent: t.Agent) -> int:
    return agent.max_files_open or file_views.DEFAULT_MAX_FILES_OPEN


def window_char_limit(agent: t.Agent) -> int:
    return agent.per_file_view_window_char_limit or file_views.DEFAULT_FILE_WINDOW_CHARS


def load(session: Session, agent: t.Agent) -> Directories:
    """The agent's folders and its views of their files, with the open files' windows."""
    folders = session.scalars(
        select(t.Folder)
        .join(t.AgentFolder, t.AgentFolder.folder_id == t.Folder.id)
        .where(t.AgentFolder.agent_id == agent.id)
        .order_by(t.Folder.name, t.Folder.id)
    ).all()
    views = file_views.views(session, agent.id)
    opened = [view.file.id for view in views if view.row.is_open]
    contents = file_contents.contents(session, opened)
    limit = window_char_limit(agent)
    by_folder: dict[str, list[FileShown]] = {}
    for view in sorted(views, key=lambda v: v.name):
        window = _window(view, contents.get(view.file.id), limit) if view.row.is_open else ""
        shown = FileShown(view.name, view.row.is_open, window, view.row)
        by_folder.setdefault(view.row.folder_id, []).append(shown)
    shown_folders = tuple(
        FolderShown(
            folder.name,
            folder.description,
            folder.instructions,
            tuple(by_folder.get(folder.id, [])),
        )
        for folder in folders
    )
    return Directories(shown_folders, max_files_open(agent), limit)


def section(session: Session, agent: t.Agent) -> str:
    """The rendered section, or empty text for an agent without folders."""
    has_folders = session.scalar(
        select(select(t.AgentFolder.folder_id).where(t.AgentFolder.agent_id == agent.id).exists())
    )
    return load(session, agent).render() if has_folders else ""


def _window(view: file_views.FileView, content: str | None, limit: int) -> str:
    total = len(file_lines(content))
    try:
        span = span_of(total, view.row.start_line, view.row.end_line, name=view.name)
    except RangeOutsideFile:  # the file changed under a stored window: show its start
        span = span_of(total, None, None, name=view.name)
    return render_window(content, span, limit)


def render_directories(directories: Directories) -> str:
    """The section as the model reads it."""
    files = directories.files
    parts = [
        "<directories>",
        "Files of the folders attached to you. open_files shows a file's lines here; "
        "grep_files and semantic_search_files search every file, open or closed.",
        "<file_limits>",
        f"- current_files_open={sum(1 for file in files if file.is_open)}",
        f"- max_files_open={directories.max_files_open}",
        "</file_limits>",
    ]
    for folder in directories.folders:
        parts.append(f'<directory name="{_attribute(folder.name)}">')
        if folder.description:
            parts.append(f"<description>{folder.description}</description>")
        if folder.instructions:
            parts.append(f"<instructions>{folder.instructions}</instructions>")
        parts.extend(_file_parts(folder.files, directories.char_limit))
        parts.append("</directory>")
    parts.append("</directories>")
    return "\n".join(parts)


def _file_parts(files: Sequence[FileShown], char_limit: int) -> list[str]:
    parts: list[str] = []
    for file in files:
        status = "open" if file.is_open else "closed"
        parts.append(f'<file status="{status}" name="{_attribute(file.name)}">')
        parts.append(
            "<metadata>\n- read_only=true\n"
            f"- chars_current={len(file.window)}\n- chars_limit={char_limit}\n</metadata>"
        )
        if file.is_open:
            parts.append(f"<value>\n{file.window}\n</value>")
        parts.append("</file>")
    return parts


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;")
