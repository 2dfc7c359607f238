"""/v1/agents: create, list, count, retrieve, modify, delete."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from engram.api import agent_include, rendering, serialize
from engram.api.agent_input import agent_changes, agent_spec
from engram.api.deps import Limit, Runtime
from engram.api.schemas import CreateAgent, UpdateAgent
from engram.ops import agents as agent_ops
from engram.ops.runs import StopReason

router = APIRouter(prefix="/v1/agents", tags=["agents"])


@router.post("/")
async def create_agent(body: CreateAgent, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await agent_ops.create_agent(rt, agent_spec(body)))


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
    identity_id: str | None = None,
    identifier_keys: list[str] | None = Query(default=None),
    last_stop_reason: StopReason | None = None,
    include: list[agent_include.Relation] | None = Query(default=None),
    include_relationships: list[str] | None = Query(default=None),
) -> Response:
    descending = order == "desc" if ascending is None else not ascending
    relations = agent_include.chosen(include, include_relationships)
    where = agent_ops.AgentFilter(
        name,
        tuple(tags or ()),
        match_all_tags,
        query_text,
        identity_id,
        tuple(identifier_keys or ()),
        last_stop_reason,
    )
    cursor = agent_ops.Cursor(before, after, limit, descending)
    found = await agent_ops.list_agents(rt, where, cursor, order_by=order_by)
    shown = [agent_include.trimmed(serialize.agent(item), relations) for item in found]
    return rendering.json_list(shown, "agent")


@router.get("/count")
async def count_agents(
    rt: Runtime,
    name: str | None = None,
    tags: list[str] | None = Query(default=None),
    match_all_tags: bool = False,
    query_text: str | None = None,
    identity_id: str | None = None,
    identifier_keys: list[str] | None = Query(default=None),
) -> int:
    where = agent_ops.AgentFilter(
        name,
        tuple(tags or ()),
        match_all_tags,
        query_text,
        identity_id,
        tuple(identifier_keys or ()),
    )
    return await agent_ops.count_agents(rt, where)


@router.get("/{agent_id}", response_model=dict[str, Any])
async def retrieve_agent(
    agent_id: str,
    rt: Runtime,
    include: list[agent_include.Relation] | None = Query(default=None),
    include_relationships: list[str] | None = Query(default=None),
) -> Response:
    relations = agent_include.chosen(include, include_relationships)
    found = await agent_ops.retrieve_agent(rt, agent_id)
    return rendering.json_item(agent_include.trimmed(serialize.agent(found), relations), "agent")


@router.patch("/{agent_id}")
async def modify_agent(agent_id: str, body: UpdateAgent, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await agent_ops.update_agent(rt, agent_id, agent_changes(body)))


@router.delete("/{agent_id}")
async def delete_agent(agent_id: str, rt: Runtime) -> dict[str, str]:
    await agent_ops.delete_agent(rt, agent_id)
    return {"message": f"agent '{agent_id}' deleted"}
