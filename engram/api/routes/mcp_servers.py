"""MCP servers: register them, list and refresh their tools, run a tool directly.

A server is reached before anything is stored: registering or changing one that cannot be
started or reached answers 502 and leaves everything as it was (``engram.ops.mcp_servers``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import Response
from fastapi.routing import APIRouter

from engram.api import serialize
from engram.api.deps import Runtime
from engram.api.mcp_schemas import CreateServer, ToolRun, UpdateServer
from engram.ops import mcp_servers as mcp_ops

router = APIRouter(tags=["mcp-servers"])


@router.post("/v1/mcp-servers/")
async def create_server(body: CreateServer, rt: Runtime) -> dict[str, Any]:
    return serialize.mcp_server(await mcp_ops.create(rt, body.server_fields()))


@router.get("/v1/mcp-servers/")
async def list_servers(rt: Runtime) -> list[dict[str, Any]]:
    return [serialize.mcp_server(row) for row in await mcp_ops.list_all(rt)]


@router.get("/v1/mcp-servers/{mcp_server_id}")
async def retrieve_server(mcp_server_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.mcp_server(await mcp_ops.retrieve(rt, mcp_server_id))


@router.patch("/v1/mcp-servers/{mcp_server_id}")
async def update_server(mcp_server_id: str, body: UpdateServer, rt: Runtime) -> dict[str, Any]:
    return serialize.mcp_server(await mcp_ops.update(rt, mcp_server_id, body.changes()))


@router.delete("/v1/mcp-servers/{mcp_server_id}")
async def delete_server(mcp_server_id: str, rt: Runtime) -> Response:
    await mcp_ops.delete(rt, mcp_server_id)
    return Response(status_code=200)


@router.patch("/v1/mcp-servers/{mcp_server_id}/refresh")
async def refresh_server_tools(
    mcp_server_id: str, rt: Runtime, agent_id: str | None = None
) -> dict[str, Any]:
    """Re-list the server's tools: new ones become tool rows, vanished ones are deleted.
    ``agent_id`` is accepted for Letta's sake; every agent sees the same rows."""
    return asdict(await mcp_ops.refresh(rt, mcp_server_id))


@router.get("/v1/mcp-servers/{mcp_server_id}/tools")
async def list_server_tools(mcp_server_id: str, rt: Runtime) -> list[dict[str, Any]]:
    return [serialize.tool(row) for row in await mcp_ops.server_tools(rt, mcp_server_id)]


@router.get("/v1/mcp-servers/{mcp_server_id}/tools/{tool_id}")
async def retrieve_server_tool(mcp_server_id: str, tool_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.tool(await mcp_ops.server_tool(rt, mcp_server_id, tool_id))


@router.post("/v1/mcp-servers/{mcp_server_id}/tools/{tool_id}/run")
async def run_server_tool(
    mcp_server_id: str, tool_id: str, body: ToolRun, rt: Runtime
) -> dict[str, Any]:
    """Call the tool directly, outside any agent; a failing call is a result with status
    ``error``, as it would be for an agent."""
    return serialize.tool_execution(await mcp_ops.run_tool(rt, mcp_server_id, tool_id, body.args))
