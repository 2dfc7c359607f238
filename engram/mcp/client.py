"""Talking to one MCP server through the official ``mcp`` package.

``list_tools`` and ``call_tool`` here open a session of their own (a fresh subprocess for
stdio, a fresh HTTP connection otherwise) and close it when done: right for a server that
is not registered yet, such as one being checked before it is stored. Registered servers'
tools are called through the long-lived sessions of ``engram.mcp.sessions``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from engram.errors import ProviderError

if TYPE_CHECKING:
    from mcp import ClientSession, types

# The mcp package is imported where a session opens, not at start-up: it pulls in a
# server framework and JSON-schema validation that cost a third of a second to import.

STDIO = "stdio"
STREAMABLE_HTTP = "streamable_http"
SSE = "sse"
SERVER_TYPES = (STDIO, STREAMABLE_HTTP, SSE)

T = TypeVar("T")

# How long an SSE event stream may stay silent before the client gives up on it; the
# session is then reopened on its next use.
SSE_IDLE_SECONDS = 3600.0


class McpServerError(ProviderError):
    """An MCP server could not be started or reached, broke the protocol, or took longer
    than its timeout; the message names the server and what to check."""


class McpTimeout(McpServerError):
    """An MCP server did not finish an operation within its ``timeout_seconds``."""


@dataclass(frozen=True)
class ServerConfig:
    """How to reach one MCP server; ``env`` and the headers hold secrets."""

    name: str
    server_type: str
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class McpTool:
    """A tool as the server describes it."""

    name: str
    description: str | None
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class McpResult:
    """What a tool call returned: its content as text, and whether the tool reported an error."""

    text: str
    is_error: bool


async def list_tools(config: ServerConfig) -> list[McpTool]:
    """Every tool the server offers (following its pagination).

    Raises ``McpServerError`` if the server cannot be reached or does not answer in time.
    """

    async def work(session: ClientSession) -> list[McpTool]:
        from mcp import types

        found: list[McpTool] = []
        cursor: str | None = None
        while True:
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            found.extend(
                McpTool(tool.name, tool.description, dict(tool.inputSchema or {}))
                for tool in page.tools
            )
            cursor = page.nextCursor
            if not cursor:
                return found

    return await _with_session(config, "list its tools", work)


async def call_tool(config: ServerConfig, name: str, arguments: dict[str, Any]) -> McpResult:
    """Call tool ``name``; a tool that reports failure gives ``is_error=True``.

    Raises ``McpServerError`` if the server cannot be reached or the call outlasts the
    server's timeout.
    """

    return await _with_session(
        config, f"call tool '{name}'", lambda session: call_on(session, name, arguments)
    )


async def call_on(session: ClientSession, name: str, arguments: dict[str, Any]) -> McpResult:
    """Call tool ``name`` through an open, initialized session."""
    result = await session.call_tool(name, arguments)
    return McpResult(result_text(result), bool(result.isError))


def result_text(result: types.CallToolResult) -> str:
    """The result's content as one text: text parts verbatim, other parts named."""
    from mcp import types

    parts: list[str] = []
    for item in result.content:
        if isinstance(item, types.TextContent):
            parts.append(item.text)
        elif isinstance(item, types.EmbeddedResource) and isinstance(
            item.resource, types.TextResourceContents
        ):
            parts.append(item.resource.text)
        else:
            parts.append(f"[{item.type} content not shown]")
    if not parts and result.structuredContent is not None:
        return str(result.structuredContent)
    return "\n".join(parts)


async def _with_session(
    config: ServerConfig, doing: str, work: Callable[[ClientSession], Awaitable[T]]
) -> T:
    async def whole() -> T:
        async with open_session(config) as session:
            await session.initialize()
            return await work(session)

    # One deadline for start-up, handshake and the call: a server that hangs anywhere
    # costs the caller at most its timeout.
    return await within_timeout(config, doing, whole())


async def within_timeout(config: ServerConfig, doing: str, operation: Awaitable[T]) -> T:
    """``operation`` bounded by the server's timeout, its failures as ``McpServerError``
    (``McpTimeout`` past the deadline).

    A transport cut off by the deadline may raise an error of its own while it is torn
    down (a broken pipe to the process being stopped) instead of the cancellation; a
    failure that arrives at the deadline is reported as the timeout it is.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + config.timeout_seconds
    try:
        return await asyncio.wait_for(operation, config.timeout_seconds)
    except TimeoutError as exc:
        raise timed_out(config, doing) from exc
    except McpServerError:
        raise
    except Exception as exc:  # the transports raise anything from OSError to ExceptionGroup
        if loop.time() >= deadline:
            raise timed_out(config, doing) from exc
        raise failed(config, doing, exc) from exc


def timed_out(config: ServerConfig, doing: str) -> McpTimeout:
    return McpTimeout(
        f"MCP server '{config.name}' did not {doing} within {config.timeout_seconds:g}s; "
        "check that it is healthy, or raise its timeout_seconds"
    )


def failed(config: ServerConfig, doing: str, exc: BaseException) -> McpServerError:
    return McpServerError(
        f"MCP server '{config.name}' ({_target(config)}) failed to {doing}: {_describe(exc)}"
    )


def _target(config: ServerConfig) -> str:
    if config.server_type == STDIO:
        return f"command '{config.command}'"
    return f"url '{config.url}'"


@asynccontextmanager
async def open_session(config: ServerConfig) -> AsyncIterator[ClientSession]:
    """A session with the server, not yet initialized; closing it ends the transport
    (for stdio: stdin closed, then the process terminated if it lingers)."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.sse import sse_client
    from mcp.client.stdio import stdio_client
    from mcp.client.streamable_http import streamable_http_client

    if config.server_type == STDIO:
        if not config.command:
            raise McpServerError(f"MCP server '{config.name}' has no command to run")
        parameters = StdioServerParameters(
            command=config.command, args=list(config.args), env=config.env
        )
        async with (
            stdio_client(parameters) as (read, write),
            ClientSession(read, write) as session,
        ):
            yield session
    elif config.server_type == STREAMABLE_HTTP:
        if not config.url:
            raise McpServerError(f"MCP server '{config.name}' has no server_url")
        http = httpx.AsyncClient(
            headers=config.headers, timeout=httpx.Timeout(config.timeout_seconds)
        )
        async with http, streamable_http_client(config.url, http_client=http) as streams:
            read, write, _session_id = streams
            async with ClientSession(read, write) as session:
                yield session
    elif config.server_type == SSE:
        if not config.url:
            raise McpServerError(f"MCP server '{config.name}' has no server_url")
        # The event stream stays open as long as the session, so its read timeout is the
        # idle limit; the caller's deadline bounds each request instead.
        async with (
            sse_client(
                config.url,
                headers=config.headers,
                timeout=config.timeout_seconds,
                sse_read_timeout=SSE_IDLE_SECONDS,
            ) as (read, write),
            ClientSession(read, write) as session,
        ):
            yield session
    else:
        raise McpServerError(
            f"MCP server '{config.name}' has type '{config.server_type}'; "
            f"supported types are {', '.join(SERVER_TYPES)}"
        )


def _describe(exc: BaseException) -> str:
    """The innermost cause, worded for a person: task groups wrap the real error."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if str(exc) else text
