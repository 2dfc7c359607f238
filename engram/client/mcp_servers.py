"""``client.mcp_servers``: MCP servers (register, list, change, refresh, delete) and
``client.mcp_servers.tools``: the tools a server offers, and running one directly."""

from __future__ import annotations

import builtins
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from engram.api import serialize
from engram.api.mcp_schemas import CreateServer, ToolRun, UpdateServer
from engram.client.agent_state import Tool
from engram.client.arguments import OMIT, Omitted, given, plain, validated_body
from engram.client.models import WireModel
from engram.client.resource import Resource
from engram.client.tools import ToolExecutionResult
from engram.ops import mcp_servers as mcp_ops

if TYPE_CHECKING:
    from engram.runtime.engine import Services


class McpServer(WireModel):
    """Letta's StdioMCPServer, SSEMCPServer or StreamableHTTPMCPServer, by
    ``mcp_server_type``: a stdio server also has ``command``, ``args`` and ``env``, the
    others ``server_url``, ``auth_header``, ``auth_token`` and ``custom_headers`` (kept as
    extra fields, so each dumps exactly as the API sends it). Secrets come back masked."""

    id: str
    server_name: str
    mcp_server_type: str
    timeout_seconds: float | None = None
    reachable: bool = True
    last_error: str | None = None
    last_synced_at: str | None = None


class AsyncMcpServerTools(Resource):
    """The tools of one MCP server, kept as tool rows agents attach like any other."""

    async def list(self, mcp_server_id: str) -> builtins.list[Tool]:
        rows = await mcp_ops.server_tools(self._services, mcp_server_id)
        return [Tool.model_validate(serialize.tool(row)) for row in rows]

    async def retrieve(self, tool_id: str, *, mcp_server_id: str) -> Tool:
        """One of the server's tools, by tool id or by name."""
        row = await mcp_ops.server_tool(self._services, mcp_server_id, tool_id)
        return Tool.model_validate(serialize.tool(row))

    async def run(
        self,
        tool_id: str,
        *,
        mcp_server_id: str,
        args: dict[str, Any] | Omitted = OMIT,
    ) -> ToolExecutionResult:
        """Call the tool directly, outside any agent; a failing call is a result with
        status ``error``."""
        body = validated_body(ToolRun, given(args=args))
        result = await mcp_ops.run_tool(self._services, mcp_server_id, tool_id, body.args)
        return ToolExecutionResult.model_validate(serialize.tool_execution(result))


class AsyncMcpServers(Resource):
    """Registered MCP servers. A server that cannot be started or reached is stored all
    the same, with ``reachable`` false and ``last_error``; its tools are listed once it
    answers (on ``refresh``, or when its tools are next listed or run)."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.tools = AsyncMcpServerTools(services)

    async def create(self, *, config: Any, server_name: str) -> McpServer:
        """Register a server from its ``config`` (``{"mcp_server_type": "stdio",
        "command": ...}``, or ``"streamable_http"``/``"sse"`` with a ``server_url``)."""
        body = validated_body(CreateServer, {"config": plain(config), "server_name": server_name})
        row = await mcp_ops.create(self._services, body.server_fields())
        return McpServer.model_validate(serialize.mcp_server(row))

    async def retrieve(self, mcp_server_id: str) -> McpServer:
        row = await mcp_ops.retrieve(self._services, mcp_server_id)
        return McpServer.model_validate(serialize.mcp_server(row))

    async def update(
        self, mcp_server_id: str, *, config: Any, server_name: str | None | Omitted = OMIT
    ) -> McpServer:
        """Change the settings given in ``config`` (its ``mcp_server_type`` must be the
        server's); the server is asked for its tools with them, and the settings are
        stored whether or not it answers."""
        body = validated_body(UpdateServer, given(config=plain(config), server_name=server_name))
        row = await mcp_ops.update(self._services, mcp_server_id, body.changes())
        return McpServer.model_validate(serialize.mcp_server(row))

    async def list(self) -> builtins.list[McpServer]:
        rows = await mcp_ops.list_all(self._services)
        return [McpServer.model_validate(serialize.mcp_server(row)) for row in rows]

    async def delete(self, mcp_server_id: str) -> None:
        """Delete the server and its tools; agents carrying them lose them."""
        await mcp_ops.delete(self._services, mcp_server_id)

    async def refresh(
        self, mcp_server_id: str, *, agent_id: str | None | Omitted = OMIT
    ) -> dict[str, Any]:
        """List the server's tools again: ``{"added", "updated", "removed"}`` tool names.
        ``agent_id`` is accepted as letta-client sends it; every agent sees the same tools.
        Raises ``McpServerError`` if the server still does not answer (that is recorded)."""
        return asdict(await mcp_ops.refresh(self._services, mcp_server_id))
