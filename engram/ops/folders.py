"""Folders (Letta's folders, once "sources"): create, list, change and delete them, and
attach them to agents, each as one transaction. Their files are ``engram.ops.files``.

A folder keeps its files' chunks in an archive of its own, created with it under the same
embedding model and deleted with it; attaching the folder gives the agent a view of each
of its finished files (``store/file_views``), detaching takes them away. The file tools
follow: an agent has them while it has a folder (``ops/file_tools``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.ops.agents import AgentBundle, bundle
from engram.ops.deps import HasDb, HasSearch
from engram.ops.file_tools import sync_file_tools
from engram.store import agents, file_views, folders
from engram.store import passages as stored_passages
from engram.store import tables as t
from engram.store.passages import Scope

DEFAULT_OVERLAP_TOKENS = 50
MIN_CHUNK_TOKENS = 16
MAX_CHUNK_TOKENS = 8192


@dataclass(frozen=True)
class FolderSpec:
    """A new folder. ``embedding_config`` wins over ``embedding`` (a handle); with neither
    the folder embeds with the server's local model. ``embedding_chunk_size`` is the chunk
    size in tokens of that model (Letta's default: 300)."""

    name: str
    description: str | None = None
    instructions: str | None = None
    metadata: dict[str, Any] | None = None
    embedding: str | None = None
    embedding_config: dict[str, Any] | None = None
    embedding_chunk_size: int | None = None


@dataclass(frozen=True)
class FolderChanges:
    """What a modification sets; None leaves a field as it is. The embedding model of a
    folder does not change: its chunks were embedded with it."""

    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    metadata: dict[str, Any] | None = None
    embedding_config: dict[str, Any] | None = None
    """Sent back as it is, it changes nothing; naming another model, it is refused."""


# What makes two embedding configs the same model: the vectors they give are comparable.
_MODEL_FIELDS = ("embedding_endpoint_type", "embedding_model", "embedding_dim")


@dataclass(frozen=True)
class Listing:
    """Cursor, size and order of a listing."""

    before: str | None = None
    after: str | None = None
    limit: int | None = 50
    descending: bool = False


async def create(deps: HasSearch, spec: FolderSpec) -> t.Folder:
    """Record a folder and its archive. The embedding model is resolved first, outside the
    transaction; a taken name is a Conflict (409) and nothing is written."""
    _check_chunk_size(spec.embedding_chunk_size)
    if spec.embedding_config is not None:
        config = await deps.embeddings.check_config(spec.embedding_config)
    else:
        config = await deps.embeddings.config_for(spec.embedding)

    def _write(session: Session) -> t.Folder:
        folder = folders.new_folder(
            session,
            name=spec.name,
            embedding_config=config,
            description=spec.description,
            instructions=spec.instructions,
            metadata=spec.metadata,
            chunk_tokens=spec.embedding_chunk_size,
        )
        if spec.embedding_chunk_size is not None:
            folder.chunk_overlap_tokens = min(DEFAULT_OVERLAP_TOKENS, folder.chunk_tokens // 4)
        return folder

    return await deps.db.write(_write)


def _check_chunk_size(size: int | None) -> None:
    if size is not None and not MIN_CHUNK_TOKENS <= size <= MAX_CHUNK_TOKENS:
        raise InvalidInput(
            "embedding_chunk_size",
            f"must be between {MIN_CHUNK_TOKENS} and {MAX_CHUNK_TOKENS} tokens, got {size}",
        )


async def list_folders(deps: HasDb, page: Listing, *, name: str | None = None) -> list[t.Folder]:
    def _read(session: Session) -> list[t.Folder]:
        return folders.list_folders(
            session,
            name=name,
            before=page.before,
            after=page.after,
            limit=page.limit,
            descending=page.descending,
        )

    return await deps.db.read(_read)


async def count(deps: HasDb) -> int:
    return await deps.db.read(folders.count)


@dataclass(frozen=True)
class FolderStats:
    """A folder and its files' ids, names and sizes (``GET /v1/folders/metadata``)."""

    folder: t.Folder
    files: list[tuple[str, str, int]]


async def stats(deps: HasDb) -> list[FolderStats]:
    """Every folder with its files, oldest folder first."""

    def _read(session: Session) -> list[FolderStats]:
        rows = folders.list_folders(session, before=None, after=None, limit=None, descending=False)
        by_folder = folders.file_sizes(session)
        return [FolderStats(row, by_folder.get(row.id, [])) for row in rows]

    return await deps.db.read(_read)


async def retrieve(deps: HasDb, folder_id: str) -> t.Folder:
    return await deps.db.read(lambda session: folders.get(session, folder_id))


async def id_by_name(deps: HasDb, name: str) -> str:
    return await deps.db.read(lambda session: folders.by_name(session, name).id)


async def modify(deps: HasDb, folder_id: str, changes: FolderChanges) -> t.Folder:
    def _write(session: Session) -> t.Folder:
        folder = folders.get(session, folder_id)
        _check_same_model(folder, changes.embedding_config)
        if changes.name is not None and changes.name != folder.name:
            folders.check_name_free(session, changes.name, other_than=folder.id)
            folder.name = changes.name
        if changes.description is not None:
            folder.description = changes.description
        if changes.instructions is not None:
            folder.instructions = changes.instructions
        if changes.metadata is not None:
            folder.metadata_ = changes.metadata
        session.flush()
        return folder

    return await deps.db.write(_write)


def _check_same_model(folder: t.Folder, sent: dict[str, Any] | None) -> None:
    """InvalidInput naming ``embedding_config`` when it names another model than the one
    the folder's chunks are embedded with."""
    if sent is None:
        return
    current = folder.embedding_config or {}
    differing = [key for key in _MODEL_FIELDS if sent.get(key) != current.get(key)]
    if differing:
        raise InvalidInput(
            "embedding_config",
            f"a folder keeps the embedding model its chunks were made with "
            f"({current.get('embedding_model')}); {', '.join(differing)} differ. Make a new "
            "folder with the other model and upload the files there",
        )


async def delete(deps: HasSearch, folder_id: str) -> None:
    """Delete the folder with its files, their chunks and its archive; an ingestion still
    running for one of its files stops at its next batch."""

    def _write(session: Session) -> str:
        folder = folders.get(session, folder_id)
        archive_id = folder.archive_id
        attached = session.scalars(
            select(t.AgentFolder.agent_id).where(t.AgentFolder.folder_id == folder_id)
        ).all()
        folders.delete_folder(session, folder)
        for agent_id in attached:
            sync_file_tools(session, agent_id)
        return archive_id

    archive_id = await deps.db.write(_write)
    deps.vectors.forget(archive_id)


async def agent_ids(deps: HasDb, folder_id: str, page: Listing) -> list[str]:
    """The ids of the agents the folder is attached to."""

    def _read(session: Session) -> list[str]:
        folders.get(session, folder_id)
        return folders.agent_ids(session, folder_id)

    ids = await deps.db.read(_read)
    return _page_ids(ids, page)


def _page_ids(ids: list[str], page: Listing) -> list[str]:
    ordered = list(reversed(ids)) if page.descending else ids
    if page.after is not None and page.after in ordered:
        ordered = ordered[ordered.index(page.after) + 1 :]
    if page.before is not None and page.before in ordered:
        ordered = ordered[: ordered.index(page.before)]
    return ordered[: page.limit] if page.limit is not None else ordered


async def passages(deps: HasDb, folder_id: str, page: Listing) -> tuple[t.Folder, list[t.Passage]]:
    """The chunks of the folder's files (passages of its archive), in the order stored."""

    def _read(session: Session) -> tuple[t.Folder, list[t.Passage]]:
        folder = folders.get(session, folder_id)
        rows = stored_passages.list_in(
            session,
            Scope(None, (folder.archive_id,)),
            before=page.before,
            after=page.after,
            limit=page.limit,
            ascending=not page.descending,
        )
        return folder, rows

    return await deps.db.read(_read)


# --------------------------------------------------------------------------- agents


async def for_agent(deps: HasDb, agent_id: str, page: Listing) -> list[t.Folder]:
    """The folders attached to the agent."""

    def _read(session: Session) -> list[t.Folder]:
        agents.get(session, agent_id)
        return folders.list_folders(
            session,
            agent_id=agent_id,
            before=page.before,
            after=page.after,
            limit=page.limit,
            descending=page.descending,
        )

    return await deps.db.read(_read)


async def attach(deps: HasDb, agent_id: str, folder_id: str) -> AgentBundle:
    """Attach the folder: the agent sees each of its finished files, closed; the agent as
    it now is. Attaching twice changes nothing."""

    def _write(session: Session) -> AgentBundle:
        agents.get(session, agent_id)
        folders.get(session, folder_id)
        folders.attach(session, agent_id, folder_id)
        file_views.add_folder(session, agent_id, folder_id)
        session.flush()
        sync_file_tools(session, agent_id)
        return bundle(session, agent_id)

    return await deps.db.write(_write)


async def detach(deps: HasDb, agent_id: str, folder_id: str) -> AgentBundle:
    """Detach the folder and the agent's views of its files; the agent as it now is."""

    def _write(session: Session) -> AgentBundle:
        agents.get(session, agent_id)
        folders.get(session, folder_id)
        file_views.remove_folder(session, agent_id, folder_id)
        folders.detach(session, agent_id, folder_id)
        session.flush()
        sync_file_tools(session, agent_id)
        return bundle(session, agent_id)

    return await deps.db.write(_write)
