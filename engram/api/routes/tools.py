"""Tools: custom tools from Python source, running them directly, and which agents carry
them. Each route parses, calls one op (``engram.ops.tools``, ``engram.ops.links``) and
serializes."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from engram.api import rendering, serialize
from engram.api.deps import Limit, Runtime
from engram.api.tool_schemas import (
    ToolCreate,
    ToolExecuteRequest,
    ToolRunFromSource,
    ToolSearchRequest,
    ToolUpdate,
)
from engram.ops import links, tool_search
from engram.ops import tools as tool_ops
from engram.ops.tools import ToolQuery

router = APIRouter(tags=["tools"])


@router.post("/v1/tools/")
async def create_tool(body: ToolCreate, rt: Runtime) -> dict[str, Any]:
    return serialize.tool(await tool_ops.create(rt, body.spec()))


@router.put("/v1/tools/")
async def upsert_tool(body: ToolCreate, rt: Runtime) -> dict[str, Any]:
    return serialize.tool(await tool_ops.upsert(rt, body.spec()))


@router.post("/v1/tools/run")
async def run_tool_from_source(body: ToolRunFromSource, rt: Runtime) -> dict[str, Any]:
    """Run unsaved source once in the sandbox; the answer is a ``tool_return_message``."""
    return serialize.tool_return_message(await tool_ops.run_from_source(rt, body.request()))


@router.post("/v1/tools/search")
async def search_tools(body: ToolSearchRequest, rt: Runtime) -> list[dict[str, Any]]:
    """Tools best matching the query by name, description and arguments, best first."""
    return [
        serialize.tool_search_result(match) for match in await tool_search.search(rt, body.search())
    ]


@router.post("/v1/agents/{agent_id}/tools/{tool_name}/run")
async def run_tool_for_agent(
    agent_id: str, tool_name: str, body: ToolExecuteRequest, rt: Runtime
) -> dict[str, Any]:
    """Run one of the agent's custom tools directly, with the agent's tool variables."""
    return serialize.tool_execution(
        await tool_ops.run_for_agent(rt, agent_id, tool_name, body.args)
    )


@router.get("/v1/tools/", response_model=list[dict[str, Any]])
async def list_tools(
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Literal["asc", "desc"] = "desc",
    order_by: Literal["created_at"] = "created_at",
    name: str | None = None,
    names: list[str] | None = Query(default=None),
    tool_ids: list[str] | None = Query(default=None),
    search: str | None = None,
    tool_types: list[str] | None = Query(default=None),
    exclude_tool_types: list[str] | None = Query(default=None),
    return_only_letta_tools: bool | None = False,
) -> Response:
    where = ToolQuery(
        name=name,
        names=names,
        tool_ids=tool_ids,
        search=search,
        tool_types=tool_types,
        exclude_tool_types=exclude_tool_types,
        only_letta_tools=bool(return_only_letta_tools),
    )
    rows = await tool_ops.list_tools(
        rt, where, before=before, after=after, limit=limit, descending=order == "desc"
    )
    return rendering.json_list([serialize.tool(row) for row in rows], "tool")


@router.get("/v1/tools/{tool_id}")
async def retrieve_tool(tool_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.tool(await tool_ops.retrieve(rt, tool_id))


@router.patch("/v1/tools/{tool_id}")
async def modify_tool(tool_id: str, body: ToolUpdate, rt: Runtime) -> dict[str, Any]:
    return serialize.tool(await tool_ops.update(rt, tool_id, body.changes()))


@router.delete("/v1/tools/{tool_id}")
async def delete_tool(tool_id: str, rt: Runtime) -> dict[str, str]:
    await tool_ops.delete(rt, tool_id)
    return {"message": f"tool '{tool_id}' deleted"}


@router.patch("/v1/agents/{agent_id}/tools/attach/{tool_id}")
async def attach_tool(agent_id: str, tool_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await links.attach(rt, agent_id, "tool", tool_id))


@router.patch("/v1/agents/{agent_id}/tools/detach/{tool_id}")
async def detach_tool(agent_id: str, tool_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await links.detach(rt, agent_id, "tool", tool_id))
