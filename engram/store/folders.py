"""Folder rows, the archive each keeps its chunks in, and which agents have them attached.

A folder's archive is the folder's own: it never shows as an archive (``is_folder_archive``
lets the archive listings and operations leave it out), and it goes with the folder.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engram.errors import Conflict, NotFound
from engram.ids import new_id
from engram.store import files
from engram.store import tables as t
from engram.store.archives import new_archive
from engram.store.pagination import apply_cursor


def new_folder(
    session: Session,
    *,
    name: str,
    embedding_config: dict[str, Any],
    description: str | None,
    instructions: str | None,
    metadata: dict[str, Any] | None,
    chunk_tokens: int | None,
) -> t.Folder:
    """A folder and its archive, added to the session; Conflict when the name is taken."""
    check_name_free(session, name)
    archive = new_archive(
        name=f"folder:{name}",
        embedding_config=embedding_config,
        description="the chunks of a folder's files",
    )
    session.add(archive)
    session.flush()
    folder = t.Folder(
        id=new_id("source"),
        name=name,
        description=description,
        instructions=instructions,
        metadata_=metadata or {},
        embedding_config=embedding_config,
        archive_id=archive.id,
    )
    if chunk_tokens is not None:
        folder.chunk_tokens = chunk_tokens
    session.add(folder)
    session.flush()
    return folder


def name_free(session: Session, name: str) -> bool:
    return session.scalar(select(t.Folder.id).where(t.Folder.name == name)) is None


def check_name_free(session: Session, name: str, *, other_than: str | None = None) -> None:
    query = select(t.Folder.id).where(t.Folder.name == name)
    if other_than is not None:
        query = query.where(t.Folder.id != other_than)
    if session.scalar(query) is not None:
        raise Conflict(f"name: a folder named '{name}' exists already; choose another name")


def get(session: Session, folder_id: str) -> t.Folder:
    folder = session.get(t.Folder, folder_id)
    if folder is None:
        raise NotFound("folder", folder_id)
    return folder


def by_name(session: Session, name: str) -> t.Folder:
    folder = session.scalar(select(t.Folder).where(t.Folder.name == name))
    if folder is None:
        raise NotFound("folder", name)
    return folder


def list_folders(
    session: Session,
    *,
    name: str | None = None,
    agent_id: str | None = None,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
) -> list[t.Folder]:
    query = select(t.Folder)
    if name is not None:
        query = query.where(t.Folder.name == name)
    if agent_id is not None:
        attached = select(t.AgentFolder.folder_id).where(t.AgentFolder.agent_id == agent_id)
        query = query.where(t.Folder.id.in_(attached))
    query = apply_cursor(
        session,
        query,
        model=t.Folder,
        order_column=t.Folder.created_at,
        kind="folder",
        before=before,
        after=after,
        limit=limit,
        descending=descending,
    )
    return list(session.scalars(query))


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(t.Folder)) or 0)


def file_sizes(session: Session) -> dict[str, list[tuple[str, str, int]]]:
    """(id, name, size) of every file, by folder id, oldest first."""
    found: dict[str, list[tuple[str, str, int]]] = {}
    query = select(t.File.folder_id, t.File.id, t.File.file_name, t.File.file_size).order_by(
        t.File.created_at, t.File.id
    )
    for folder_id, file_id, name, size in session.execute(query):
        found.setdefault(folder_id, []).append((file_id, name, size))
    return found


def agent_ids(session: Session, folder_id: str) -> list[str]:
    """The agents the folder is attached to, in the order they were attached."""
    return list(
        session.scalars(
            select(t.AgentFolder.agent_id)
            .where(t.AgentFolder.folder_id == folder_id)
            .order_by(t.AgentFolder.created_at, t.AgentFolder.agent_id)
        )
    )


def for_agent(session: Session, agent_id: str) -> list[t.Folder]:
    """The agent's folders, in the order they were attached."""
    return list(
        session.scalars(
            select(t.Folder)
            .join(t.AgentFolder, t.AgentFolder.folder_id == t.Folder.id)
            .where(t.AgentFolder.agent_id == agent_id)
            .order_by(t.AgentFolder.created_at, t.Folder.id)
        )
    )


def attach(session: Session, agent_id: str, folder_id: str) -> bool:
    """Attach the folder; False when it was attached already."""
    if session.get(t.AgentFolder, (agent_id, folder_id)) is not None:
        return False
    session.add(t.AgentFolder(agent_id=agent_id, folder_id=folder_id))
    session.flush()
    return True


def detach(session: Session, agent_id: str, folder_id: str) -> None:
    session.execute(
        delete(t.AgentFolder).where(
            t.AgentFolder.agent_id == agent_id, t.AgentFolder.folder_id == folder_id
        )
    )


def delete_folder(session: Session, folder: t.Folder) -> None:
    """The folder, its files, their chunks and views, and its archive."""
    files.lock(session, select(t.File.id).where(t.File.folder_id == folder.id))
    session.execute(delete(t.Passage).where(t.Passage.archive_id == folder.archive_id))
    session.execute(delete(t.FileAgent).where(t.FileAgent.folder_id == folder.id))
    file_ids = select(t.File.id).where(t.File.folder_id == folder.id)
    session.execute(delete(t.FileUpload).where(t.FileUpload.file_id.in_(file_ids)))
    session.execute(delete(t.File).where(t.File.folder_id == folder.id))
    session.execute(delete(t.AgentFolder).where(t.AgentFolder.folder_id == folder.id))
    archive_id = folder.archive_id
    session.delete(folder)
    session.flush()
    session.execute(delete(t.Archive).where(t.Archive.id == archive_id))
