"""MCP servers: registering them, listing and refreshing their tools, running a tool
directly.

A server is reached before anything is stored: registering or changing one that cannot be
started or reached raises ``McpServerError`` (a 502) and leaves everything as it was. The
server is never reached while a transaction is open: its settings are read, the server
is listed, and only then is the change written.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.mcp import STDIO, McpServerError, list_tools, registry
from engram.mcp.registry import DEFAULT_TIMEOUT_SECONDS, ServerFields, SyncReport
from engram.ops.deps import HasDb
from engram.ops.tools import Execution
from engram.store import tables as t

if TYPE_CHECKING:
    from engram.mcp import McpSessions

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "STDIO",
    "HasMcp",
    "ServerChanges",
    "ServerFields",
    "SyncReport",
    "create",
    "delete",
    "list_all",
    "refresh",
    "retrieve",
    "run_tool",
    "server_tool",
    "server_tools",
    "update",
]


class HasMcp(HasDb, Protocol):
    """Reaches MCP servers through the process's live sessions."""

    @property
    def mcp_sessions(self) -> McpSessions: ...


@dataclass(frozen=True)
class ServerChanges:
    """What a change to a server sent; ``None`` keeps the stored value. ``server_type``
    must be the server's own: a server's type is changed only by registering it again."""

    server_type: str
    name: str | None = None
    command: str | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = None
    url: str | None = None
    auth_header: str | None = None
    auth_token: str | None = None
    custom_headers: dict[str, str] | None = None
    timeout_seconds: float | None = None

    def given(self) -> dict[str, Any]:
        """The settings sent, by ``ServerFields`` name."""
        return {
            spec.name: getattr(self, spec.name)
            for spec in fields(self)
            if spec.name != "server_type" and getattr(self, spec.name) is not None
        }


async def create(deps: HasDb, settings: ServerFields) -> t.McpServer:
    """Register a server and a tool row per tool it lists."""
    _check_url(settings.url)
    listed = await list_tools(settings.config())
    return await deps.db.write(lambda session: registry.create(session, settings, listed))


async def list_all(deps: HasDb) -> list[t.McpServer]:
    return await deps.db.read(registry.list_servers)


async def retrieve(deps: HasDb, server_id: str) -> t.McpServer:
    return await deps.db.read(lambda session: registry.get(session, server_id))


async def update(deps: HasMcp, server_id: str, changes: ServerChanges) -> t.McpServer:
    """Change a server's settings; it is listed again with them before they are stored,
    and its live session closed so the next call opens one with the new settings."""
    current = await _stored_fields(deps, server_id)
    if changes.server_type != current.server_type:
        raise InvalidInput(
            "config.mcp_server_type",
            f"server '{current.name}' is {current.server_type}, not {changes.server_type}; "
            "delete it and register it again to change its type",
        )
    _check_url(changes.url)
    settings = current.merged(changes.given())
    listed = await list_tools(settings.config())
    row = await deps.db.write(lambda session: registry.update(session, server_id, settings, listed))
    await deps.mcp_sessions.close(server_id)
    return row


async def delete(deps: HasMcp, server_id: str) -> None:
    """Delete the server and its tool rows; agents carrying those tools lose them."""
    await deps.db.write(lambda session: registry.delete_server(session, server_id))
    await deps.mcp_sessions.forget(server_id)


async def refresh(deps: HasMcp, server_id: str) -> SyncReport:
    """List the server's tools again: new ones become tool rows, changed ones are
    updated, vanished ones are deleted."""
    settings = await _stored_fields(deps, server_id)
    listed = await list_tools(settings.config())

    def _write(session: Session) -> SyncReport:
        return registry.sync_tools(session, registry.get(session, server_id), listed)

    report = await deps.db.write(_write)
    # Calls from now on reach the server as it just listed its tools (a stdio server's
    # process may still run the code it had before the refresh).
    deps.mcp_sessions.retire(server_id)
    return report


async def server_tools(deps: HasDb, server_id: str) -> list[t.Tool]:
    def _read(session: Session) -> list[t.Tool]:
        registry.get(session, server_id)
        return registry.tools_of(session, server_id)

    return await deps.db.read(_read)


async def server_tool(deps: HasDb, server_id: str, tool_ref: str) -> t.Tool:
    """One of the server's tools, by id or by name."""
    return await deps.db.read(lambda session: registry.tool_of(session, server_id, tool_ref))


async def run_tool(deps: HasMcp, server_id: str, tool_ref: str, args: dict[str, Any]) -> Execution:
    """Call the tool directly, outside any agent; a failing call is a result with status
    ``error``, as it would be for an agent."""

    def _read(session: Session) -> tuple[ServerFields, str]:
        tool = registry.tool_of(session, server_id, tool_ref)
        return registry.fields_of(registry.get(session, server_id)), tool.name

    settings, name = await deps.db.read(_read)
    try:
        result = await deps.mcp_sessions.call_tool(server_id, settings.config(), name, args)
    except McpServerError as exc:
        return Execution(status="error", func_return=str(exc))
    return Execution(status="error" if result.is_error else "success", func_return=result.text)


async def _stored_fields(deps: HasDb, server_id: str) -> ServerFields:
    return await deps.db.read(lambda session: registry.fields_of(registry.get(session, server_id)))


def _check_url(url: str | None) -> None:
    if url is not None and not url.startswith(("http://", "https://")):
        raise InvalidInput("config.server_url", f"'{url}' is not an http:// or https:// URL")
