"""Health, models, tools, tags, runs and steps: the read-mostly catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from engram import __version__
from engram.api import serialize
from engram.api.deps import Limit, Runtime
from engram.errors import ProviderError
from engram.runtime.views import letta_messages
from engram.store import agents, messages, runs, tools
from engram.store import tables as t
from engram.store.tables import as_utc

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
async def list_agent_tools(agent_id: str, rt: Runtime) -> list[dict[str, Any]]:
    def _read(session: Session) -> Any:
        agents.get(session, agent_id)
        return [serialize.tool(row) for row in tools.for_agent(session, agent_id)]

    return await rt.db.read(_read)


@router.get("/v1/tags/")
async def list_tags(rt: Runtime) -> list[str]:
    def _read(session: Session) -> Any:
        return agents.all_tags(session)

    return await rt.db.read(_read)


@router.get("/v1/runs/{run_id}")
async def retrieve_run(run_id: str, rt: Runtime) -> dict[str, Any]:
    def _read(session: Session) -> Any:
        return serialize.run(runs.get(session, run_id))

    return await rt.db.read(_read)


@router.get("/v1/runs/{run_id}/messages")
async def list_run_messages(run_id: str, rt: Runtime, limit: Limit = 100) -> list[dict[str, Any]]:
    def _read(session: Session) -> Any:
        runs.get(session, run_id)
        rows = messages.for_run(session, run_id)
        return rows

    rows = await rt.db.read(_read)
    return [view for row in rows[:limit] for view in letta_messages(row)]


@router.get("/v1/runs/{run_id}/steps")
async def list_run_steps(run_id: str, rt: Runtime) -> list[dict[str, Any]]:
    def _read(session: Session) -> Any:
        runs.get(session, run_id)
        return [_step(row) for row in runs.steps_of(session, run_id)]

    return await rt.db.read(_read)


def _step(row: t.Step) -> dict[str, Any]:
    return {
        "id": row.id,
        "run_id": row.run_id,
        "agent_id": row.agent_id,
        "model": row.model,
        "model_handle": row.model_handle,
        "provider_name": row.provider_name,
        "context_window_limit": row.context_window_limit,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.prompt_tokens + row.completion_tokens,
        "stop_reason": row.stop_reason,
        "status": row.status,
        "tags": [],
        "messages": [],
        "created_at": as_utc(row.created_at).isoformat(),
        "duration_ms": row.duration_ms,
        "counted_prompt_tokens": row.counted_prompt_tokens,
    }
