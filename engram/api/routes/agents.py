"""/v1/agents: create, list, retrieve, modify, delete."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from engram.api import rendering, serialize
from engram.api.deps import Limit, Runtime
from engram.api.schemas import CreateAgent, UpdateAgent
from engram.ops import agents as agent_ops
from engram.store import agents as agent_store

router = APIRouter(prefix="/v1/agents", tags=["agents"])


def _spec(body: CreateAgent) -> agent_ops.AgentSpec:
    return agent_ops.AgentSpec(
        name=body.name,
        system=body.system,
        agent_type=body.agent_type,
        description=body.description,
        metadata=body.metadata,
        tags=body.tags or [],
        memory_blocks=[agent_ops.BlockSpec(**b.model_dump()) for b in body.memory_blocks or []],
        block_ids=body.block_ids or [],
        tools=body.tools or [],
        tool_ids=body.tool_ids or [],
        include_base_tools=body.include_base_tools,
        model=body.model,
        llm_config=body.llm_config.model_dump() if body.llm_config else None,
        tool_call_format=body.tool_call_format,
        enable_reasoner=body.enable_reasoner,
        max_reasoning_tokens=body.max_reasoning_tokens,
        embedding=body.embedding,
        embedding_config=body.embedding_config.model_dump() if body.embedding_config else None,
        context_window_limit=body.context_window_limit,
        tool_rules=body.tool_rules,
        tool_env={**(body.tool_exec_environment_variables or {}), **(body.secrets or {})},
        compaction_settings=_dump(body.compaction_settings),
        recall_assist=_dump(body.recall_assist),
    )


def _dump(settings: BaseModel | None) -> dict[str, Any] | None:
    """Only what the client set, so that unset knobs keep following the server defaults."""
    return settings.model_dump(exclude_unset=True) if settings is not None else None


@router.post("/")
async def create_agent(body: CreateAgent, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await agent_ops.create_agent(rt, _spec(body)))


@router.get("/", response_model=list[dict[str, Any]])
async def list_agents(
    rt: Runtime,
    name: str | None = None,
    tags: list[str] | None = Query(default=None),
    match_all_tags: bool = False,
    query_text: str | None = None,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Literal["asc", "desc"] = "desc",
    order_by: Literal["created_at", "updated_at", "last_run_completion"] = "created_at",
    ascending: bool | None = None,
) -> Response:
    descending = order == "desc" if ascending is None else not ascending
    where = agent_store.AgentFilter(name, tuple(tags or ()), match_all_tags, query_text)

    def _read(session: Session) -> Any:
        rows = agent_store.list_agents(
            session,
            where,
            before=before,
            after=after,
            limit=limit,
            descending=descending,
            order_by_updated=order_by == "updated_at",
        )
        return [serialize.agent(agent_ops.bundle(session, row.id)) for row in rows]

    return rendering.json_list(await rt.db.read(_read), "agent")


@router.get("/count")
async def count_agents(
    rt: Runtime,
    name: str | None = None,
    tags: list[str] | None = Query(default=None),
    match_all_tags: bool = False,
    query_text: str | None = None,
) -> int:
    where = agent_store.AgentFilter(name, tuple(tags or ()), match_all_tags, query_text)
    return await rt.db.read(lambda session: agent_store.count_agents(session, where))


@router.get("/{agent_id}", response_model=dict[str, Any])
async def retrieve_agent(agent_id: str, rt: Runtime) -> Response:
    def _read(session: Session) -> Any:
        return serialize.agent(agent_ops.bundle(session, agent_id))

    return rendering.json_item(await rt.db.read(_read), "agent")


@router.patch("/{agent_id}")
async def modify_agent(agent_id: str, body: UpdateAgent, rt: Runtime) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return serialize.agent(await agent_ops.update_agent(rt, agent_id, changes))


@router.delete("/{agent_id}")
async def delete_agent(agent_id: str, rt: Runtime) -> dict[str, str]:
    await agent_ops.delete_agent(rt, agent_id)
    return {"message": f"agent '{agent_id}' deleted"}
