"""Archive rows and which agents have them attached."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from engram.errors import Conflict, NotFound
from engram.ids import new_id
from engram.store import tables as t
from engram.store.pagination import apply_cursor


def new_archive(
    *,
    name: str,
    embedding_config: dict[str, Any],
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> t.Archive:
    return t.Archive(
        id=new_id("archive"),
        name=name,
        description=description,
        embedding_config=embedding_config,
        metadata_=metadata or {},
    )


def get(session: Session, archive_id: str) -> t.Archive:
    """An archive by id. A folder's own archive (which holds its files' chunks) is no
    archive to the archive operations: it is not found here."""
    archive = session.get(t.Archive, archive_id)
    if archive is None or _is_folder_archive(session, archive_id):
        raise NotFound("archive", archive_id)
    return archive


def _is_folder_archive(session: Session, archive_id: str) -> bool:
    return session.scalar(select(t.Folder.id).where(t.Folder.archive_id == archive_id)) is not None


def list_archives(
    session: Session,
    *,
    name: str | None,
    agent_id: str | None,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
) -> list[t.Archive]:
    query = select(t.Archive).where(~exists().where(t.Folder.archive_id == t.Archive.id))
    if name is not None:
        query = query.where(t.Archive.name == name)
    if agent_id is not None:
        attached = select(t.AgentArchive.archive_id).where(t.AgentArchive.agent_id == agent_id)
        query = query.where(t.Archive.id.in_(attached))
    query = apply_cursor(
        session,
        query,
        model=t.Archive,
        order_column=t.Archive.created_at,
        kind="archive",
        before=before,
        after=after,
        limit=limit,
        descending=descending,
    )
    return list(session.scalars(query))


def for_agent(session: Session, agent_id: str) -> list[t.Archive]:
    rows = session.scalars(
        select(t.Archive)
        .join(t.AgentArchive, t.AgentArchive.archive_id == t.Archive.id)
        .where(t.AgentArchive.agent_id == agent_id)
        .order_by(t.Archive.created_at)
    )
    return list(rows)


def attach(session: Session, agent: t.Agent, archive: t.Archive) -> None:
    """Let the agent search the archive; idempotent.

    Raises ``Conflict`` when the archive embeds with another model than the agent: their
    vectors would not be comparable, and a search would silently miss the archive.
    """
    check_same_embedding(agent, archive)
    linked = session.get(t.AgentArchive, (agent.id, archive.id))
    if linked is None:
        session.add(t.AgentArchive(agent_id=agent.id, archive_id=archive.id))


def detach(session: Session, agent_id: str, archive_id: str) -> None:
    session.execute(
        delete(t.AgentArchive).where(
            t.AgentArchive.agent_id == agent_id, t.AgentArchive.archive_id == archive_id
        )
    )


def check_same_embedding(agent: t.Agent, archive: t.Archive) -> None:
    mine, theirs = _model(agent.embedding_config), _model(archive.embedding_config)
    if mine != theirs:
        raise Conflict(
            f"archive '{archive.id}' embeds with '{theirs[0]}' ({theirs[1]} dims) but agent "
            f"'{agent.id}' searches with '{mine[0]}' ({mine[1]} dims); attach only archives "
            "created with the agent's embedding model"
        )


def _model(config: dict[str, Any]) -> tuple[str, int]:
    handle = config.get("handle") or config.get("embedding_model") or "unknown"
    return str(handle), int(config.get("embedding_dim") or 0)
