"""Health, models, agent tools and tags: the read-mostly catalogue."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from engram import __version__
from engram.api import serialize
from engram.api.deps import Cursor, Limit, Runtime
from engram.ops import tools as tool_ops
from engram.store import agents
from engram.tools.confinement import sandbox_in_force

router = APIRouter(tags=["catalog"])


@router.get("/v1/health/")
async def health(rt: Runtime) -> dict[str, str]:
    """Up, which version, and the sandbox custom tools run in (``none``: they are refused)."""
    return {"version": __version__, "status": "ok", "sandbox": sandbox_in_force(rt.settings).name}


@router.get("/v1/models/")
async def list_models(
    rt: Runtime,
    provider_name: str | None = None,
    provider_type: str | None = None,
    provider_category: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Every provider's chat models; a provider that cannot list its models is left out."""
    models = []
    for entry in await rt.providers.models():
        if entry.is_embedding:
            continue
        config = rt.providers.llm_config(entry)
        models.append(
            {
                **config,
                "name": entry.model,
                "provider_type": entry.kind,
                "model_type": "llm",
                "max_context_window": entry.context_window,
            }
        )
    return [
        model
        for model in models
        if provider_name in (None, model["provider_name"])
        and provider_type in (None, model["provider_type"])
        and (not provider_category or model["provider_category"] in provider_category)
    ]


@router.get("/v1/models/embedding")
async def list_embedding_models(rt: Runtime) -> list[dict[str, Any]]:
    return [
        {
            **config,
            "name": config["embedding_model"],
            "display_name": config["embedding_model"],
            "provider_type": config["embedding_endpoint_type"],
            "provider_name": config["handle"].split("/", 1)[0],
            "model_type": "embedding",
        }
        for config in await rt.embeddings.list_models()
    ]


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

    def _read(session: Session) -> Any:
        return agents.all_tags(session)

    tags: list[str] = await rt.db.read(_read)
    if name is not None:
        tags = [tag for tag in tags if tag == name]
    if query_text:
        tags = [tag for tag in tags if query_text.lower() in tag.lower()]
    if order == "desc":
        tags.reverse()
    if after is not None:
        tags = [tag for tag in tags if (tag < after if order == "desc" else tag > after)]
    if before is not None:
        tags = [tag for tag in tags if (tag > before if order == "desc" else tag < before)]
    return tags[:limit] if limit is not None else tags
