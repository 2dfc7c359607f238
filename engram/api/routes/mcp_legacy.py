"""Letta's older MCP routes, ``/v1/tools/mcp/servers...``: servers named, not given by id,
and configs in Letta's StdioServerConfig / SSEServerConfig / StreamableHTTPServerConfig
shape. They reach the same operations as ``/v1/mcp-servers`` (``engram.ops.mcp_legacy``).
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRouter

from engram.api import serialize
from engram.api.deps import Runtime
from engram.api.mcp_schemas import LegacyServerConfig, LegacyServerUpdate, ToolRun
from engram.ops import mcp_legacy

router = APIRouter(prefix="/v1/tools/mcp/servers", tags=["mcp-servers (Letta's older routes)"])


def _config(server: dict[str, Any]) -> dict[str, Any]:
    """A server as these routes showed it: its config, named, with ``type``; secrets masked
    as everywhere, and Engram's reachability fields kept."""
    view = {key: value for key, value in server.items() if key not in ("id", "mcp_server_type")}
    return {**view, "type": server["mcp_server_type"]}


@router.get("")
async def list_servers(rt: Runtime) -> dict[str, dict[str, Any]]:
    """Every server's config, by name."""
    servers = [serialize.mcp_server(row) for row in await mcp_legacy.list_all(rt)]
    return {server["server_name"]: _config(server) for server in servers}


@router.put("")
async def add_server(body: LegacyServerConfig, rt: Runtime) -> list[dict[str, Any]]:
    """Register a server (stored even if it cannot be reached); every server's config."""
    rows = await mcp_legacy.add(rt, body.server_fields())
    return [_config(serialize.mcp_server(row)) for row in rows]


@router.post("/test")
async def test_server(body: LegacyServerConfig, rt: Runtime) -> dict[str, Any]:
    """The server's tools, without storing it; a server that does not answer is a 502."""
    found = await mcp_legacy.test(body.server_fields())
    return {"status": "success", "tools": [_mcp_tool(tool) for tool in found]}


@router.patch("/{mcp_server_name}")
async def update_server(
    mcp_server_name: str, body: LegacyServerUpdate, rt: Runtime
) -> dict[str, Any]:
    return _config(serialize.mcp_server(await mcp_legacy.update(rt, mcp_server_name, body)))


@router.delete("/{mcp_server_name}")
async def delete_server(mcp_server_name: str, rt: Runtime) -> list[dict[str, Any]]:
    rows = await mcp_legacy.delete(rt, mcp_server_name)
    return [_config(serialize.mcp_server(row)) for row in rows]


@router.get("/{mcp_server_name}/tools")
async def list_server_tools(mcp_server_name: str, rt: Runtime) -> list[dict[str, Any]]:
    """The server's tools as Letta's MCPTool (``name``, ``description``, ``inputSchema``),
    asked of the server now; one that does not answer is a 502."""
    rows = await mcp_legacy.tools(rt, mcp_server_name)
    return [_mcp_tool(mcp_legacy.as_mcp_tool(row)) for row in rows]


@router.post("/{mcp_server_name}/resync")
async def resync_server(
    mcp_server_name: str, rt: Runtime, agent_id: str | None = None
) -> dict[str, list[str]]:
    """Letta's MCPServerResyncResult: the tool names ``added``, ``updated`` and ``deleted``."""
    report = await mcp_legacy.resync(rt, mcp_server_name)
    return {"added": report.added, "updated": report.updated, "deleted": report.removed}


@router.post("/{mcp_server_name}/tools/{tool_name}/execute")
async def execute_tool(
    mcp_server_name: str, tool_name: str, body: ToolRun, rt: Runtime
) -> dict[str, Any]:
    """Run the tool; ``{"result", "success"}`` as Letta answered."""
    done = await mcp_legacy.execute(rt, mcp_server_name, tool_name, body.args)
    return {"result": done.func_return, "success": done.status == "success"}


@router.post("/{mcp_server_name}/{mcp_tool_name}")
async def add_tool(mcp_server_name: str, mcp_tool_name: str, rt: Runtime) -> dict[str, Any]:
    """The tool row of one of the server's tools (Engram keeps them all already)."""
    return serialize.tool(await mcp_legacy.add_tool(rt, mcp_server_name, mcp_tool_name))


def _mcp_tool(tool: Any) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.input_schema,
    }
