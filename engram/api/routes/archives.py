"""Archives: named passage stores that agents can share, and passage search across them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import delete
from sqlalchemy.orm import Session

from engram.api import serialize
from engram.api.deps import Limit, Runtime
from engram.api.schemas import Body, EmbeddingConfigBody, PassageText
from engram.errors import InvalidInput
from engram.memory import archival
from engram.ops import agents as agent_ops
from engram.runtime.engine import Services
from engram.store import agents, archives, passages
from engram.store import tables as t
from engram.store.passages import PassageFilter, Scope
from engram.store.tables import as_utc

router = APIRouter(tags=["archives"])

# Engram has one organization; Letta's default organization id keeps its shape.
ORGANIZATION_ID = "org-00000000-0000-4000-8000-000000000000"
MAX_BATCH = 1000


class ArchiveCreate(Body):
    name: str = Field(min_length=1, max_length=255)
    embedding_config: EmbeddingConfigBody | None = None
    embedding: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None


class ArchiveUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None
    metadata: dict[str, Any] | None = None


class PassageCreate(Body):
    text: PassageText
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    created_at: str | None = None


class PassageBatchCreate(Body):
    passages: list[PassageCreate] = Field(min_length=1, max_length=MAX_BATCH)


class PassageSearch(Body):
    query: str | None = None
    agent_id: str | None = None
    archive_id: str | None = None
    tags: list[str] | None = None
    tag_match_mode: Literal["any", "all"] = "any"
    limit: int = Field(default=50, ge=1, le=1000)
    start_date: str | None = None
    end_date: str | None = None


def archive_view(row: t.Archive) -> dict[str, Any]:
    """An archive as the contract's ``Archive``."""
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "organization_id": ORGANIZATION_ID,
        "vector_db_provider": "native",
        "embedding_config": row.embedding_config,
        "metadata": row.metadata_ or {},
        "created_at": as_utc(row.created_at).isoformat(),
        "updated_at": as_utc(row.updated_at).isoformat(),
        "created_by_id": None,
        "last_updated_by_id": None,
    }


def parse_time(field: str, value: str | None) -> datetime | None:
    """An ISO 8601 date or time in UTC (naive means UTC); 422 naming ``field`` otherwise."""
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value)).astimezone(UTC)
    except ValueError as exc:
        raise InvalidInput(field, f"not an ISO 8601 date or time: '{value}'") from exc


# --------------------------------------------------------------------------- archives


@router.post("/v1/archives/")
async def create_archive(body: ArchiveCreate, rt: Runtime) -> dict[str, Any]:
    if body.embedding_config is not None:
        config = await rt.embeddings.check_config(body.embedding_config.model_dump())
    else:
        config = await rt.embeddings.config_for(body.embedding)
    row = archives.new_archive(
        name=body.name,
        embedding_config=config,
        description=body.description,
        metadata=body.metadata,
    )

    def _write(session: Session) -> Any:
        session.add(row)

    await rt.db.write(_write)
    return archive_view(row)


@router.get("/v1/archives/")
async def list_archives(
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Literal["asc", "desc"] = "desc",
    order_by: Literal["created_at"] = "created_at",
    name: str | None = None,
    agent_id: str | None = None,
) -> list[dict[str, Any]]:
    def _read(session: Session) -> Any:
        if agent_id is not None:
            agents.get(session, agent_id)
        rows = archives.list_archives(
            session,
            name=name,
            agent_id=agent_id,
            before=before,
            after=after,
            limit=limit,
            descending=order == "desc",
        )
        return [archive_view(row) for row in rows]

    return await rt.db.read(_read)


@router.get("/v1/archives/{archive_id}")
async def retrieve_archive(archive_id: str, rt: Runtime) -> dict[str, Any]:
    def _read(session: Session) -> Any:
        return archive_view(archives.get(session, archive_id))

    return await rt.db.read(_read)


@router.patch("/v1/archives/{archive_id}")
async def modify_archive(archive_id: str, body: ArchiveUpdate, rt: Runtime) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)

    def _write(session: Session) -> Any:
        row = archives.get(session, archive_id)
        for name in ("name", "description"):
            if name in changes:
                setattr(row, name, changes[name])
        if "metadata" in changes:
            row.metadata_ = changes["metadata"]
        session.flush()
        return archive_view(row)

    return await rt.db.write(_write)


@router.delete("/v1/archives/{archive_id}")
async def delete_archive(archive_id: str, rt: Runtime) -> None:
    """Delete the archive with its passages; agents it was attached to lose only it."""

    def _write(session: Session) -> Any:
        session.delete(archives.get(session, archive_id))

    await rt.db.write(_write)
    rt.vectors.forget(archive_id)


# --------------------------------------------------------------------------- passages


@router.post("/v1/archives/{archive_id}/passages")
async def create_archive_passage(
    archive_id: str, body: PassageCreate, rt: Runtime
) -> dict[str, Any]:
    rows, config = await _insert(rt, archive_id, [body])
    return serialize.passage(rows[0], config)


@router.post("/v1/archives/{archive_id}/passages/batch")
async def create_archive_passages(
    archive_id: str, body: PassageBatchCreate, rt: Runtime
) -> list[dict[str, Any]]:
    rows, config = await _insert(rt, archive_id, body.passages)
    return [serialize.passage(row, config) for row in rows]


async def _insert(
    rt: Services, archive_id: str, items: list[PassageCreate]
) -> tuple[list[t.Passage], dict[str, Any]]:
    """Embed outside any transaction, then write every passage at once or none."""
    times = [parse_time(f"passages.{i}.created_at", p.created_at) for i, p in enumerate(items)]

    def _read(session: Session) -> Any:
        return archives.get(session, archive_id).embedding_config

    config = await rt.db.read(_read)
    embedder = rt.embeddings.embedder_for(config)
    vectors = await embedder.embed([item.text for item in items])
    rows = [
        passages.new_passage(
            archive_id=archive_id,
            text_=item.text,
            embedding=vector,
            embedding_handle=embedder.handle,
            tags=item.tags,
            metadata=item.metadata,
            created_at=when,
        )
        for item, vector, when in zip(items, vectors, times, strict=True)
    ]

    def _write(session: Session) -> Any:
        archives.get(session, archive_id)
        session.add_all(rows)

    await rt.db.write(_write)
    return rows, config


@router.delete("/v1/archives/{archive_id}/passages/{passage_id}")
async def delete_archive_passage(archive_id: str, passage_id: str, rt: Runtime) -> None:
    def _write(session: Session) -> Any:
        archives.get(session, archive_id)
        passages.get_in(session, Scope(None, (archive_id,)), passage_id)
        session.execute(delete(t.Passage).where(t.Passage.id == passage_id))

    await rt.db.write(_write)


# --------------------------------------------------------------------------- agents


@router.patch("/v1/agents/{agent_id}/archives/attach/{archive_id}")
async def attach_archive(agent_id: str, archive_id: str, rt: Runtime) -> dict[str, Any]:
    def _write(session: Session) -> Any:
        agent = agents.get(session, agent_id)
        archives.attach(session, agent, archives.get(session, archive_id))
        session.flush()
        return serialize.agent(agent_ops.bundle(session, agent_id))

    return await rt.db.write(_write)


@router.patch("/v1/agents/{agent_id}/archives/detach/{archive_id}")
async def detach_archive(agent_id: str, archive_id: str, rt: Runtime) -> dict[str, Any]:
    def _write(session: Session) -> Any:
        agents.get(session, agent_id)
        archives.get(session, archive_id)
        archives.detach(session, agent_id, archive_id)
        return serialize.agent(agent_ops.bundle(session, agent_id))

    return await rt.db.write(_write)


# --------------------------------------------------------------------------- search


@router.post("/v1/passages/search")
async def search_passages(body: PassageSearch, rt: Runtime) -> list[dict[str, Any]]:
    """Search an agent's passages (its archives' included) or one archive's.

    With a query, passages are ranked by meaning and keywords fused; without one, the
    newest passages matching the filters come first with score 0.
    """
    start = parse_time("start_date", body.start_date)
    end = parse_time("end_date", body.end_date)
    where = PassageFilter(tuple(body.tags or ()), body.tag_match_mode == "all", start, end)
    scope, searcher_config, configs = await rt.db.read(lambda session: _search_scope(session, body))
    query = (body.query or "").strip()
    if query:
        embedder = rt.embeddings.embedder_for(searcher_config)
        vector = await archival.embed_one(embedder, query)

        def _search(session: Session) -> Any:
            return archival.search_scope(
                session,
                rt.vectors,
                scope,
                query,
                vector,
                top_k=body.limit,
                tags=list(where.tags),
                match_all_tags=where.match_all_tags,
                start=start,
                end=end,
            )

        hits = [(hit.passage, hit.score) for hit in await rt.db.read(_search)]
    else:

        def _list(session: Session) -> Any:
            rows = passages.list_in(session, scope, limit=body.limit, ascending=False, where=where)
            return [(row, 0.0) for row in rows]

        hits = await rt.db.read(_list)
    return [
        {
            "passage": serialize.passage(row, configs.get(row.archive_id or row.agent_id or "")),
            "score": score,
            "metadata": {},
        }
        for row, score in hits
    ]


def _search_scope(
    session: Session, body: PassageSearch
) -> tuple[Scope, dict[str, Any], dict[str, dict[str, Any]]]:
    """What to search, which embedding config queries it, and each owner's config."""
    if body.archive_id is not None:
        return _archive_scope(session, body.archive_id, body.agent_id)
    if body.agent_id is None:
        raise InvalidInput("agent_id", "give agent_id or archive_id to say what to search")
    agent = agents.get(session, body.agent_id)
    configs = {row.id: row.embedding_config for row in archives.for_agent(session, agent.id)}
    configs[agent.id] = agent.embedding_config
    return passages.scope_of_agent(session, agent.id), agent.embedding_config, configs


def _archive_scope(
    session: Session, archive_id: str, agent_id: str | None
) -> tuple[Scope, dict[str, Any], dict[str, dict[str, Any]]]:
    archive = archives.get(session, archive_id)
    if agent_id is not None:
        agents.get(session, agent_id)
        if archive.id not in passages.scope_of_agent(session, agent_id).archive_ids:
            raise InvalidInput(
                "archive_id", f"archive '{archive.id}' is not attached to agent '{agent_id}'"
            )
    config = archive.embedding_config
    return Scope(None, (archive.id,)), config, {archive.id: config}
