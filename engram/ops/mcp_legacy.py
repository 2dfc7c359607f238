"""Letta's older MCP routes (``/v1/tools/mcp/servers...``), which name servers rather
than give their ids, through the same operations as ``/v1/mcp-servers``.

Existing integrations written against self-hosted Letta still call these; each use case
here resolves the name and then does what ``engram.ops.mcp_servers`` does, answering with
what those routes answered (the list of every server after an add or a delete, a resync's
``{added, updated, deleted}``).
"""

from __future__ import annotations

from typing import Any, Protocol

from engram.mcp import McpTool, list_tools, registry
from engram.mcp.registry import ServerFields, SyncReport
from engram.ops import mcp_servers as mcp_ops
from engram.ops.deps import HasDb
from engram.ops.mcp_servers import HasMcp, ServerChanges
from engram.ops.tools import Execution
from engram.store import tables as t


class UpdateBody(Protocol):
    """An update as Letta's older routes send it: its fields depend on the server's type."""

    def changes(self, server_type: str) -> ServerChanges: ...


async def list_all(deps: HasDb) -> list[t.McpServer]:
    return await mcp_ops.list_all(deps)


def as_mcp_tool(row: t.Tool) -> McpTool:
    """A tool row as the server described the tool: its own name, its input schema."""
    parameters = (row.json_schema or {}).get("parameters") or {}
    return McpTool(registry.origin_name(row), row.description, dict(parameters))


async def add(deps: HasDb, settings: ServerFields) -> list[t.McpServer]:
    """Register a server (stored even if it cannot be reached); every server after it."""
    await mcp_ops.create(deps, settings)
    return await mcp_ops.list_all(deps)


async def update(deps: HasMcp, name: str, sent: UpdateBody) -> t.McpServer:
    """Change the server named ``name``, reading ``sent`` against its type."""
    server = await mcp_ops.retrieve_by_name(deps, name)
    return await mcp_ops.update(deps, server.id, sent.changes(server.server_type))


async def delete(deps: HasMcp, name: str) -> list[t.McpServer]:
    """Delete the server named ``name`` and its tools; every server left."""
    server = await mcp_ops.retrieve_by_name(deps, name)
    await mcp_ops.delete(deps, server.id)
    return await mcp_ops.list_all(deps)


async def tools(deps: HasMcp, name: str) -> list[t.Tool]:
    """The server's tools as it lists them now (Letta asked the server on every call);
    its tool rows are synced on the way. ``McpServerError`` if it does not answer."""
    server = await mcp_ops.retrieve_by_name(deps, name)
    await mcp_ops.refresh(deps, server.id)
    return await mcp_ops.server_tools(deps, server.id)


async def resync(deps: HasMcp, name: str) -> SyncReport:
    server = await mcp_ops.retrieve_by_name(deps, name)
    return await mcp_ops.refresh(deps, server.id)


async def add_tool(deps: HasDb, name: str, tool_name: str) -> t.Tool:
    """Letta registered one MCP tool as a tool here; Engram keeps every tool of a server
    as a tool row already, so this is that row (the server is retried if it was down)."""
    server = await mcp_ops.retrieve_by_name(deps, name)
    return await mcp_ops.server_tool(deps, server.id, tool_name)


async def execute(deps: HasMcp, name: str, tool_name: str, args: dict[str, Any]) -> Execution:
    server = await mcp_ops.retrieve_by_name(deps, name)
    return await mcp_ops.run_tool(deps, server.id, tool_name, args)


async def test(settings: ServerFields) -> list[McpTool]:
    """The tools a server offers, without storing it; ``McpServerError`` if it does not
    answer."""
    return await list_tools(settings.config())
