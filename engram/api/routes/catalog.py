"""Health, models, agent tools and tags: the read-mostly catalogue."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from engram.api import serialize
from engram.api.deps import Cursor, Limit, Runtime
from engram.ops import catalog
from engram.ops import tools as tool_ops

router = APIRouter(tags=["catalog"])


@router.get("/v1/health/")
async def health(rt: Runtime) -> dict[str, str]:
    """Up, which version, and the sandbox custom tools run in (``none``: they are refused)."""
    return asdict(await catalog.health(rt))


@router.get("/v1/models/")
async def list_models(
    rt: Runtime,
    provider_name: str | None = None,
    provider_type: str | None = None,
    provider_category: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Every provider's chat models; a provider that cannot list its models is left out."""
    return await catalog.list_models(
        rt,
        provider_name=provider_name,
        provider_type=provider_type,
        provider_category=provider_category,
    )


@router.get("/v1/models/embedding")
async def list_embedding_models(rt: Runtime) -> list[dict[str, Any]]:
    return await catalog.list_embedding_models(rt)


@router.get("/v1/agents/{agent_id}/tools")
async def list_agent_tools(
    agent_id: str,
    rt: Runtime,
    cursor: Cursor,
) -> list[dict[str, Any]]:
    rows = await tool_ops.list_for_agent(
        rt,
        agent_id,
        before=cursor.before,
        after=cursor.after,
        limit=cursor.limit,
        descending=cursor.order == "desc",
    )
    return [serialize.tool(row) for row in rows]


@router.get("/v1/tags/")
async def list_tags(
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = None,
    order: Literal["asc", "desc"] = "asc",
    order_by: Literal["name"] = "name",
    query_text: str | None = None,
    name: str | None = None,
) -> list[str]:
    """Distinct agent tags by name; ``before``/``after`` are tags, ``query_text`` a substring."""
    query = catalog.TagQuery(before, after, limit, order, query_text, name)
    return await catalog.list_tags(rt, query)
