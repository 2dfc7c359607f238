"""``client.mcp_servers``: MCP servers and their tools."""

from __future__ import annotations

from engram.client.resource import Resource


class AsyncMcpServers(Resource):
    pass
