"""MCP servers: registering them, listing and refreshing their tools, running a tool
directly.

A server is stored whether or not it can be reached, as Letta stores it: registering or
changing one that does not answer keeps it with ``reachable`` false and the error, and its
tools are listed when it next answers, on ``refresh`` or when its tools are next used
(listed, looked up or run). The server is never reached while a transaction is open: its
settings are read, the server is asked for its tools, and only then is the outcome written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from engram.errors import InvalidInput, NotFound
from engram.mcp import STDIO, McpServerError, list_tools, registry
from engram.mcp.registry import DEFAULT_TIMEOUT_SECONDS, Listing, ServerFields, SyncReport
from engram.ops.deps import HasDb
from engram.ops.tools import Execution
from engram.store import tables as t

if TYPE_CHECKING:
    from engram.mcp import McpSessions

log = logging.getLogger(__name__)

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
    "retrieve_by_name",
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
    """Register a server and a tool row per tool it lists; one that cannot be reached is
    stored all the same, with the error, and gets its tools when it answers."""
    _check_url(settings.url)
    listing = await _ask(settings)
    return await deps.db.write(lambda session: registry.create(session, settings, listing))


async def list_all(deps: HasDb) -> list[t.McpServer]:
    return await deps.db.read(registry.list_servers)


async def retrieve(deps: HasDb, server_id: str) -> t.McpServer:
    return await deps.db.read(lambda session: registry.get(session, server_id))


async def retrieve_by_name(deps: HasDb, name: str) -> t.McpServer:
    """The server registered as ``name`` (Letta's older routes name servers, not ids)."""
    return await deps.db.read(lambda session: registry.get_by_name(session, name))


async def update(deps: HasMcp, server_id: str, changes: ServerChanges) -> t.McpServer:
    """Change a server's settings; the server is asked for its tools with them, and its
    live session closed so the next call opens one with the new settings.

    A server that answered before must answer with the new settings, or the change is
    refused with ``McpServerError`` and nothing changes (a typo does not break a working
    server); one that could not be reached anyway takes the new settings whether or not
    it answers (its tools stay as they were until it does)."""
    was_reachable = (await retrieve(deps, server_id)).reachable
    current = await _stored_fields(deps, server_id)
    if changes.server_type != current.server_type:
        raise InvalidInput(
            "config.mcp_server_type",
            f"server '{current.name}' is {current.server_type}, not {changes.server_type}; "
            "delete it and register it again to change its type",
        )
    _check_url(changes.url)
    settings = current.merged(changes.given())
    listing = await _ask(settings)
    if listing.tools is None and was_reachable:
        raise McpServerError(listing.error or f"MCP server '{settings.name}' did not answer")
    row = await deps.db.write(
        lambda session: registry.update(session, server_id, settings, listing)
    )
    await deps.mcp_sessions.close(server_id)
    return row


async def delete(deps: HasMcp, server_id: str) -> None:
    """Delete the server and its tool rows; agents carrying those tools lose them."""
    await deps.db.write(lambda session: registry.delete_server(session, server_id))
    await deps.mcp_sessions.forget(server_id)


async def refresh(deps: HasMcp, server_id: str) -> SyncReport:
    """List the server's tools again: new ones become tool rows, changed ones are
    updated, vanished ones are deleted. A server that does not answer is marked so, with
    the error, and the refresh fails with ``McpServerError``; its tools are kept."""
    report, listing = await _sync(deps, server_id)
    if listing.tools is None:
        raise McpServerError(listing.error or "the MCP server could not be reached")
    # Calls from now on reach the server as it just listed its tools (a stdio server's
    # process may still run the code it had before the refresh).
    deps.mcp_sessions.retire(server_id)
    return report


async def server_tools(deps: HasDb, server_id: str) -> list[t.Tool]:
    """The server's tool rows; a server not reached before is asked for its tools first."""
    await _sync_if_unreached(deps, server_id)

    def _read(session: Session) -> list[t.Tool]:
        registry.get(session, server_id)
        return registry.tools_of(session, server_id)

    return await deps.db.read(_read)


async def server_tool(deps: HasDb, server_id: str, tool_ref: str) -> t.Tool:
    """One of the server's tools, by id or by name."""
    await _sync_if_unreached(deps, server_id)
    return await deps.db.read(lambda session: registry.tool_of(session, server_id, tool_ref))


async def run_tool(deps: HasMcp, server_id: str, tool_ref: str, args: dict[str, Any]) -> Execution:
    """Call the tool directly, outside any agent; a failing call (the server down
    included) is a result with status ``error``, as it would be for an agent."""
    unreached = await _sync_if_unreached(deps, server_id)

    def _read(session: Session) -> tuple[ServerFields, str] | str:
        server = registry.get(session, server_id)
        try:
            tool = registry.tool_of(session, server_id, tool_ref)
        except NotFound:
            if unreached is None:
                raise
            return unreached
        return registry.fields_of(server), registry.origin_name(tool)

    found = await deps.db.read(_read)
    if isinstance(found, str):
        return Execution(status="error", func_return=found)
    settings, name = found
    try:
        result = await deps.mcp_sessions.call_tool(server_id, settings.config(), name, args)
    except McpServerError as exc:
        return Execution(status="error", func_return=str(exc))
    return Execution(status="error" if result.is_error else "success", func_return=result.text)


async def _ask(settings: ServerFields) -> Listing:
    """The server's tools, or why it could not be asked for them."""
    try:
        return Listing(tools=await list_tools(settings.config()))
    except McpServerError as exc:
        log.warning("%s", exc)
        return Listing(error=str(exc))


async def _sync(deps: HasDb, server_id: str) -> tuple[SyncReport, Listing]:
    """Ask the server for its tools and write the outcome: its tool rows if it answered,
    its reachability and last error either way."""
    listing = await _ask(await _stored_fields(deps, server_id))

    def _write(session: Session) -> SyncReport:
        return registry.record_listing(session, registry.get(session, server_id), listing)

    return await deps.db.write(_write), listing


async def _sync_if_unreached(deps: HasDb, server_id: str) -> str | None:
    """Retry a server that could not be reached last time; None once it answers, else the
    reason it still does not."""
    server = await retrieve(deps, server_id)
    if server.reachable:
        return None
    _, listing = await _sync(deps, server_id)
    return listing.error


async def _stored_fields(deps: HasDb, server_id: str) -> ServerFields:
    return await deps.db.read(lambda session: registry.fields_of(registry.get(session, server_id)))


def _check_url(url: str | None) -> None:
    if url is not None and not url.startswith(("http://", "https://")):
        raise InvalidInput("config.server_url", f"'{url}' is not an http:// or https:// URL")
