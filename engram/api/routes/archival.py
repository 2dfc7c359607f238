"""An agent's archival memory: its passages, listed, inserted, searched and deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from engram.api import rendering, serialize
from engram.api.deps import Limit, Runtime
from engram.api.schemas import CreatePassage
from engram.errors import InvalidInput
from engram.memory.ranking import SearchMode
from engram.runtime import memory_ops
from engram.store import agents, passages
from engram.store.tables import as_utc

router = APIRouter(tags=["memory"])


@router.get("/v1/agents/{agent_id}/archival-memory", response_model=list[dict[str, Any]])
async def list_passages(
    agent_id: str,
    rt: Runtime,
    after: str | None = None,
    before: str | None = None,
    limit: Limit = 100,
    search: str | None = None,
    ascending: bool = True,
) -> Response:
    def _read(session: Session) -> Any:
        agent = agents.get(session, agent_id)
        rows = passages.list_passages(
            session,
            agent_id,
            before=before,
            after=after,
            limit=limit,
            ascending=ascending,
            search=search,
        )
        return [serialize.passage(row, agent.embedding_config) for row in rows]

    return rendering.json_list(await rt.db.read(_read), "passage")


@router.post("/v1/agents/{agent_id}/archival-memory")
async def create_passage(agent_id: str, body: CreatePassage, rt: Runtime) -> list[dict[str, Any]]:
    row = await memory_ops.insert_passage(rt, agent_id, body.text, body.tags, body.created_at)

    def _read(session: Session) -> Any:
        agent = agents.get(session, agent_id)
        return agent

    agent = await rt.db.read(_read)
    return [serialize.passage(row, agent.embedding_config)]


def _when(field: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(field, f"not an ISO 8601 date or time: '{value}'") from exc


@router.get("/v1/agents/{agent_id}/archival-memory/search")
async def search_passages(
    agent_id: str,
    rt: Runtime,
    query: str = Query(min_length=1),
    tags: list[str] | None = Query(default=None),
    tag_match_mode: Literal["any", "all"] = "any",
    top_k: int | None = Query(default=None, ge=1, le=1000),
    start_datetime: str | None = None,
    end_datetime: str | None = None,
    search_mode: SearchMode = "hybrid",
) -> dict[str, Any]:
    """Engram adds ``search_mode``: ``fts`` or ``vector`` keeps one ranking alone."""
    _, hits = await memory_ops.search_passages(
        rt,
        agent_id,
        query,
        tags=tags,
        match_all=tag_match_mode == "all",
        top_k=top_k or 10,
        start=_when("start_datetime", start_datetime),
        end=_when("end_datetime", end_datetime),
        mode=search_mode,
    )
    results = [
        {
            "id": hit.passage.id,
            "timestamp": as_utc(hit.passage.created_at).isoformat(),
            "content": hit.passage.text,
            "tags": hit.passage.tags or [],
            "source": passages.provenance(hit.passage),
        }
        for hit in hits
    ]
    return {"results": results, "count": len(results)}


@router.delete("/v1/agents/{agent_id}/archival-memory/{memory_id}")
async def delete_passage(agent_id: str, memory_id: str, rt: Runtime) -> dict[str, str]:
    def _write(session: Session) -> Any:
        agents.get(session, agent_id)
        passages.delete_one(session, agent_id, memory_id)

    await rt.db.write(_write)
    rt.vectors.forget(agent_id)
    return {"message": f"passage '{memory_id}' deleted"}
