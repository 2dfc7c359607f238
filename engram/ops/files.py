"""Files of folders: upload (ingested in the background), list, retrieve and delete them;
and an agent's views of the files of its folders (list, open, close).

An upload is checked whole before anything is stored: a name, some bytes, under the size
limit, of a type a parser reads. It is then one transaction (the file ``pending`` and its
bytes), and the ingestion job is queued (``runtime/ingestion.py``).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engram.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from engram.jobs import JobQueue
from engram.ops.deps import HasDb, HasSearch, HasSettings
from engram.runtime import documents, ingestion
from engram.store import agents, file_views, files, folders
from engram.store import tables as t
from engram.store.file_views import FileView

MAX_FILES_OPEN = file_views.DEFAULT_MAX_FILES_OPEN
FILE_WINDOW_CHARS = file_views.DEFAULT_FILE_WINDOW_CHARS
"""The defaults of an agent's ``max_files_open`` and ``per_file_view_window_char_limit``."""

DuplicateHandling = Literal["skip", "error", "suffix", "replace"]
MAX_NAME_CHARS = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class HasIngestion(HasSearch, HasSettings, Protocol):
    """Stores uploads and queues their ingestion."""

    @property
    def jobs(self) -> JobQueue: ...


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its bytes, the name and type the client sent, and what to do
    when the folder has a file of that name (Letta's ``duplicate_handling``)."""

    data: bytes
    filename: str | None
    content_type: str | None = None
    duplicate_handling: DuplicateHandling = "suffix"
    name: str | None = None


@dataclass(frozen=True)
class Listing:
    before: str | None = None
    after: str | None = None
    limit: int | None = 1000
    descending: bool = True


def safe_name(raw: str | None, field: str) -> str:
    """The base name of a client's file name: directories (``../``, ``a/b``, ``C:\\x``)
    are dropped; a name that is empty, only dots, has control characters (NUL) or is too
    long is refused naming ``field``."""
    if raw is None or not raw.strip():
        raise InvalidInput(field, "the file needs a name; give one (e.g. 'notes.txt')")
    if _CONTROL.search(raw):
        raise InvalidInput(field, "a file name may not hold control characters such as NUL")
    base = posixpath.basename(raw.replace("\\", "/")).strip()
    if not base.strip("."):
        raise InvalidInput(field, f"'{raw}' names no file; give a file name such as 'notes.txt'")
    if len(base) > MAX_NAME_CHARS:
        raise InvalidInput(field, f"a file name may be at most {MAX_NAME_CHARS} characters")
    return base


async def upload(deps: HasIngestion, folder_id: str, item: Upload) -> t.File:
    """Store the file ``pending`` and queue its ingestion; the row as stored (or, with
    ``skip``, the file of that name already there). Nothing is stored when a check
    fails: 404 for a missing folder, 409 for a taken name with ``error``, 413 over the
    size limit, 415 for a type no parser reads, 422 for an empty file or a bad name."""
    original = safe_name(item.filename, "file")
    name = safe_name(item.name, "name") if item.name is not None else original
    _check_size(item.data, original, deps.settings.max_upload_bytes)
    documents.check_type(name, item.content_type)

    def _write(session: Session) -> tuple[t.File, bool]:
        folders.get(session, folder_id)
        existing = files.by_name(session, folder_id, name)
        chosen = name
        if existing is not None:
            if item.duplicate_handling == "skip":
                return existing, False
            if item.duplicate_handling == "error":
                raise Conflict(
                    f"file: folder '{folder_id}' has a file named '{name}' already; upload "
                    "with duplicate_handling 'suffix', 'replace' or 'skip', or another name"
                )
            if item.duplicate_handling == "replace":
                files.delete_file(session, existing.id)
                session.flush()
            else:
                chosen = _suffixed(name, files.names_in(session, folder_id))
        row = files.new_file(
            session,
            folder_id,
            file_name=chosen,
            original_file_name=original,
            file_type=item.content_type,
            data=item.data,
        )
        return row, True

    try:
        row, created = await deps.db.write(_write)
    except IntegrityError:
        # Another upload took the name between our check and our insert (another
        # replica): the name's owner is now visible, so decide again, once.
        row, created = await deps.db.write(_write)
    if created:
        await ingestion.enqueue(deps.jobs, row.id)
    return row


def _check_size(data: bytes, name: str, limit: int) -> None:
    if not data:
        raise InvalidInput("file", f"'{name}' is empty (0 bytes); upload a file with content")
    if len(data) > limit:
        raise PayloadTooLarge(
            "file",
            f"'{name}' is {len(data):,} bytes, over the upload limit of {limit:,} bytes; the "
            "server's operator can raise it with ENGRAM_MAX_UPLOAD_BYTES",
        )


def _suffixed(name: str, taken: set[str]) -> str:
    """``report.txt`` -> ``report_(1).txt``, the first such name not taken (Letta's form)."""
    stem, extension = posixpath.splitext(name)
    number = 1
    while f"{stem}_({number}){extension}" in taken:
        number += 1
    return f"{stem}_({number}){extension}"


async def list_files(
    deps: HasDb, folder_id: str, page: Listing, *, include_content: bool = False
) -> list[t.File]:
    def _read(session: Session) -> list[t.File]:
        folders.get(session, folder_id)
        return files.list_files(
            session,
            folder_id,
            before=page.before,
            after=page.after,
            limit=page.limit,
            descending=page.descending,
            content=include_content,
        )

    return await deps.db.read(_read)


async def retrieve(
    deps: HasDb, folder_id: str, file_id: str, *, include_content: bool = False
) -> t.File:
    def _read(session: Session) -> t.File:
        folders.get(session, folder_id)
        return files.get(session, file_id, folder_id=folder_id, content=include_content)

    return await deps.db.read(_read)


async def delete(deps: HasSearch, folder_id: str, file_id: str) -> None:
    """Delete the file with its chunks and agents' views of it; an ingestion still running
    for it stops at its next batch."""

    def _write(session: Session) -> str:
        folder = folders.get(session, folder_id)
        files.get(session, file_id, folder_id=folder_id)
        files.delete_file(session, file_id)
        return folder.archive_id

    deps.vectors.forget(await deps.db.write(_write))


# --------------------------------------------------------------------------- an agent's


@dataclass(frozen=True)
class AgentFilesPage:
    """A page of an agent's files, Letta's ``PaginatedAgentFiles``."""

    views: list[FileView]
    next_cursor: str | None
    has_more: bool
    # What each open file shows (its window of lines, cut at the agent's character
    # limit), by view id.
    visible: dict[str, str]


async def agent_files(
    deps: HasDb,
    agent_id: str,
    *,
    cursor: str | None = None,
    limit: int | None = 100,
    is_open: bool | None = None,
    before: str | None = None,
    order: Literal["asc", "desc"] | None = None,
) -> AgentFilesPage:
    """The agent's files, most recently used first, or with ``order`` by when each was
    attached (Letta's order); ``cursor`` is the id of the last view of the previous page,
    ``before`` of the first view of the next one."""

    def _read(session: Session) -> AgentFilesPage:
        agent = agents.get(session, agent_id)
        views = file_views.views(session, agent_id, is_open=is_open)
        if order is not None:
            views.sort(key=lambda view: (view.row.created_at, view.row.id))
            if order == "desc":
                views.reverse()
        ids = [view.row.id for view in views]
        for mark in (cursor, before):
            if mark is not None and mark not in ids:
                raise NotFound("file cursor", mark)
        start = ids.index(cursor) + 1 if cursor is not None else 0
        end = ids.index(before) if before is not None else len(ids)
        views = views[start:end]
        more = limit is not None and len(views) > limit
        shown = views[:limit] if limit is not None else views
        window = agent.per_file_view_window_char_limit or file_views.DEFAULT_FILE_WINDOW_CHARS
        visible = {view.row.id: _window(view, window) for view in shown if view.row.is_open}
        return AgentFilesPage(shown, shown[-1].row.id if more else None, more, visible)

    return await deps.db.read(_read)


async def open_file(
    deps: HasDb,
    agent_id: str,
    file_id: str,
    *,
    start_line: int | None = None,
    end_line: int | None = None,
) -> list[str]:
    """Open the file for the agent; the names of the files closed to make room."""

    def _write(session: Session) -> list[str]:
        agent = agents.get(session, agent_id)
        view = _view(session, agent_id, file_id)
        limit = agent.max_files_open or file_views.DEFAULT_MAX_FILES_OPEN
        names = _names(session, agent_id)
        closed = file_views.open_file(
            session, view.row, start_line=start_line, end_line=end_line, max_open=limit
        )
        return [names[closed_id] for closed_id in closed if closed_id in names]

    return await deps.db.write(_write)


async def close_file(deps: HasDb, agent_id: str, file_id: str) -> None:
    def _write(session: Session) -> None:
        agents.get(session, agent_id)
        file_views.close_file(_view(session, agent_id, file_id).row)

    await deps.db.write(_write)


async def close_all(deps: HasDb, agent_id: str) -> list[str]:
    """Close every open file of the agent; the names of those that were open."""

    def _write(session: Session) -> list[str]:
        agents.get(session, agent_id)
        names = _names(session, agent_id)
        closed = file_views.close_all(session, agent_id)
        return [names[file_id] for file_id in closed if file_id in names]

    return await deps.db.write(_write)


def _window(view: FileView, chars: int) -> str:
    """The lines an open file shows (1-based, inclusive), at most ``chars`` of them."""
    lines = (view.file.content or "").splitlines()
    first = max(1, view.row.start_line or 1)
    last = view.row.end_line or len(lines)
    return "\n".join(lines[first - 1 : last])[:chars]


def _view(session: Session, agent_id: str, file_id: str) -> FileView:
    for view in file_views.views(session, agent_id):
        if view.file.id == file_id:
            return view
    raise NotFound("file", file_id)


def _names(session: Session, agent_id: str) -> dict[str, str]:
    """``folder/file`` names of the agent's files by file id."""
    return {view.file.id: view.name for view in file_views.views(session, agent_id)}
