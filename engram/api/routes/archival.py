"""An agent's archival memory: its passages, listed, inserted, searched and deleted."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from engram.api import rendering, serialize
from engram.api.deps import Limit, Runtime
from engram.api.rerank_header import add_rerank_header
from engram.api.schemas import CreatePassage
from engram.ops import passages as passage_ops
from engram.ops.passages import SearchMode
from engram.times import parse_time

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
    page = await passage_ops.list_for_agent(
        rt, agent_id, before=before, after=after, limit=limit, ascending=ascending, search=search
    )
    views = [serialize.passage(row, page.embedding_config) for row in page.rows]
    return rendering.json_list(views, "passage")


@router.post("/v1/agents/{agent_id}/archival-memory")
async def create_passage(agent_id: str, body: CreatePassage, rt: Runtime) -> list[dict[str, Any]]:
    item = passage_ops.NewPassage(
        text=body.text, tags=body.tags, created_at=parse_time("created_at", body.created_at)
    )
    page = await passage_ops.insert(rt, agent_id, item)
    return [serialize.passage(row, page.embedding_config) for row in page.rows]


@router.get("/v1/agents/{agent_id}/archival-memory/search")
async def search_passages(
    agent_id: str,
    rt: Runtime,
    response: Response,
    query: str = Query(min_length=1),
    tags: list[str] | None = Query(default=None),
    tag_match_mode: Literal["any", "all"] = "any",
    top_k: int | None = Query(default=None, ge=1, le=1000),
    start_datetime: str | None = None,
    end_datetime: str | None = None,
    search_mode: SearchMode = "hybrid",
) -> dict[str, Any]:
    """Engram adds ``search_mode``: ``fts`` or ``vector`` keeps one ranking alone."""
    search = passage_ops.AgentSearch(
        query=query,
        tags=tags,
        match_all_tags=tag_match_mode == "all",
        top_k=top_k or 10,
        start=parse_time("start_datetime", start_datetime),
        end=parse_time("end_datetime", end_datetime),
        mode=search_mode,
    )
    hits = await passage_ops.search_agent(rt, agent_id, search)
    add_rerank_header(response, hits.note)
    results = [serialize.archival_result(hit.passage) for hit in hits.items]
    return {"results": results, "count": len(results)}


@router.delete("/v1/agents/{agent_id}/archival-memory/{memory_id}")
async def delete_passage(agent_id: str, memory_id: str, rt: Runtime) -> dict[str, str]:
    await passage_ops.delete_for_agent(rt, agent_id, memory_id)
    return {"message": f"passage '{memory_id}' deleted"}
