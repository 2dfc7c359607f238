"""Archives: named passage stores that agents can share. Creating, listing, changing and
deleting them, each as one transaction. Their passages are in ``engram.ops.passages``;
attaching one to an agent is ``engram.ops.links``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from engram.ops.deps import HasDb, HasSearch
from engram.store import agents, archives
from engram.store import tables as t


@dataclass(frozen=True)
class ArchiveSpec:
    """A new archive. ``embedding_config`` (a whole config) wins over ``embedding`` (a
    handle); with neither the archive embeds with the server's local model."""

    name: str
    embedding_config: dict[str, Any] | None = None
    embedding: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class ArchiveChanges:
    """What a modification sets; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class ArchiveQuery:
    """Which archives a listing shows and in what order."""

    name: str | None = None
    agent_id: str | None = None
    before: str | None = None
    after: str | None = None
    limit: int | None = 50
    descending: bool = True


async def create(deps: HasSearch, spec: ArchiveSpec) -> t.Archive:
    """Record a new archive. The embedding model is resolved first (outside the
    transaction): an unknown one is refused naming ``embedding`` or ``embedding_config``
    and nothing is written."""
    if spec.embedding_config is not None:
        config = await deps.embeddings.check_config(spec.embedding_config)
    else:
        config = await deps.embeddings.config_for(spec.embedding)
    row = archives.new_archive(
        name=spec.name,
        embedding_config=config,
        description=spec.description,
        metadata=spec.metadata,
    )

    def _write(session: Session) -> None:
        session.add(row)

    await deps.db.write(_write)
    return row


async def list_archives(deps: HasDb, query: ArchiveQuery) -> list[t.Archive]:
    """A page of archives; filtering by an unknown agent is a NotFound, not an empty page."""

    def _read(session: Session) -> list[t.Archive]:
        if query.agent_id is not None:
            agents.get(session, query.agent_id)
        return archives.list_archives(
            session,
            name=query.name,
            agent_id=query.agent_id,
            before=query.before,
            after=query.after,
            limit=query.limit,
            descending=query.descending,
        )

    return await deps.db.read(_read)


async def retrieve(deps: HasDb, archive_id: str) -> t.Archive:
    def _read(session: Session) -> t.Archive:
        return archives.get(session, archive_id)

    return await deps.db.read(_read)


async def modify(deps: HasDb, archive_id: str, changes: ArchiveChanges) -> t.Archive:
    def _write(session: Session) -> t.Archive:
        row = archives.get(session, archive_id)
        if changes.name is not None:
            row.name = changes.name
        if changes.description is not None:
            row.description = changes.description
        if changes.metadata is not None:
            row.metadata_ = changes.metadata
        session.flush()
        return row

    return await deps.db.write(_write)


async def delete(deps: HasSearch, archive_id: str) -> None:
    """Delete the archive with its passages; agents it was attached to lose only it."""

    def _write(session: Session) -> None:
        session.delete(archives.get(session, archive_id))

    await deps.db.write(_write)
    deps.vectors.forget(archive_id)
