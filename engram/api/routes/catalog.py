"""Health, models, agent tools and tags: the read-mostly catalogue."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from sqlalchemy.orm import Session

from engram import __version__
from engram.api import serialize
from engram.api.deps import Cursor, Limit, Runtime
from engram.errors import ProviderError
from engram.store import agents, tools

router = APIRouter(tags=["catalog"])


@router.get("/v1/health/")
async def health() -> dict[str, str]:
    return {"version": __version__, "status": "ok"}


@router.get("/v1/models/")
async def list_models(rt: Runtime) -> list[dict[str, Any]]:
    try:
        entries = await rt.providers.models()
    except ProviderError as exc:
        raise ProviderError(f"could not list models: {exc}") from exc
    return [
        {
            "handle": e.handle,
            "name": e.model,
            "display_name": e.model,
            "provider_type": "openai",
            "provider_name": e.provider,
            "provider_category": "base",
            "model_type": "llm",
            "model": e.model,
            "model_endpoint_type": "openai",
            "model_endpoint": e.endpoint,
            "model_wrapper": None,
            "context_window": e.context_window,
            "max_context_window": e.context_window,
            "put_inner_thoughts_in_kwargs": False,
            "temperature": 0.7,
            "max_tokens": None,
            "enable_reasoner": False,
            "parallel_tool_calls": False,
        }
        for e in entries
        if not e.is_embedding
    ]


@router.get("/v1/models/embedding")
async def list_embedding_models(rt: Runtime) -> list[dict[str, Any]]:
    out = []
    for config in await rt.embeddings.list_models():
        provider = config["handle"].split("/", 1)[0]
        out.append(
            {
                **config,
                "name": config["embedding_model"],
                "display_name": config["embedding_model"],
                "provider_type": "openai" if provider == "openai" else "hugging-face",
                "provider_name": provider,
                "model_type": "embedding",
            }
        )
    return out


@router.get("/v1/agents/{agent_id}/tools")
async def list_agent_tools(
    agent_id: str,
    rt: Runtime,
    cursor: Cursor,
) -> list[dict[str, Any]]:
    def _read(session: Session) -> Any:
        agents.get(session, agent_id)
        rows = cursor.page(tools.for_agent(session, agent_id), kind="tool")
        return [serialize.tool(row) for row in rows]

    return await rt.db.read(_read)


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
