"""MCP servers: reaching them, listing their tools, and calling those tools."""

from __future__ import annotations

from engram.mcp.client import (
    SSE,
    STDIO,
    STREAMABLE_HTTP,
    McpResult,
    McpServerError,
    McpTool,
    ServerConfig,
    call_tool,
    list_tools,
)
from engram.mcp.sessions import McpSessions

__all__ = [
    "SSE",
    "STDIO",
    "STREAMABLE_HTTP",
    "McpResult",
    "McpServerError",
    "McpSessions",
    "McpTool",
    "ServerConfig",
    "call_tool",
    "list_tools",
]
