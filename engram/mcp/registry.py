"""Registered MCP servers and the tool rows their tools become.

Each tool a server lists is kept as a row of ``tools`` (``tool_type`` ``external_mcp``,
its metadata naming the server), so agents attach MCP tools like any other tool. The rows
follow the server: registering, updating or refreshing it syncs them, deleting it deletes
them (and agents lose them through the link's cascade).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engram.errors import Conflict, InvalidInput, NotFound
from engram.ids import new_id
from engram.mcp.client import STDIO, McpTool, ServerConfig
from engram.store import tables as t
from engram.store import tools
from engram.store.tables import utcnow

MCP_TOOL_TYPE = "external_mcp"
DEFAULT_TIMEOUT_SECONDS = 30.0
_SECRET_FIELDS = ("env", "auth_token", "custom_headers")


@dataclass(frozen=True)
class ServerFields:
    """A server's settings as stored; secrets in the clear."""

    name: str
    server_type: str
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    url: str | None = None
    auth_header: str | None = None
    auth_token: str | None = None
    custom_headers: dict[str, str] | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def config(self) -> ServerConfig:
        headers = dict(self.custom_headers or {})
        if self.auth_token:
            headers[self.auth_header or "Authorization"] = self.auth_token
        return ServerConfig(
            name=self.name,
            server_type=self.server_type,
            command=self.command,
            args=list(self.args),
            env=self.env,
            url=self.url,
            headers=headers,
            timeout_seconds=self.timeout_seconds,
        )

    def merged(self, changes: dict[str, Any]) -> ServerFields:
        """These settings with ``changes`` applied; a secret sent back masked, as the API
        showed it, keeps its stored value."""
        changes = dict(changes)
        for name in _SECRET_FIELDS:
            if name in changes:
                changes[name] = _unmasked(changes[name], getattr(self, name))
        return replace(self, **changes)


def fields_of(row: t.McpServer) -> ServerFields:
    return ServerFields(
        **{f.name: getattr(row, f.name) for f in fields(ServerFields) if f.name != "args"},
        args=list(row.args or []),
    )


def get(session: Session, server_id: str) -> t.McpServer:
    row = session.get(t.McpServer, server_id)
    if row is None:
        raise NotFound("mcp server", server_id)
    return row


def get_by_name(session: Session, name: str) -> t.McpServer:
    row = session.scalar(select(t.McpServer).where(t.McpServer.name == name))
    if row is None:
        raise NotFound("mcp server", name)
    return row


def list_servers(session: Session) -> list[t.McpServer]:
    return list(session.scalars(select(t.McpServer).order_by(t.McpServer.created_at)))


@dataclass(frozen=True)
class Listing:
    """What asking a server for its tools gave: the tools, or why it could not be asked."""

    tools: list[McpTool] | None = None
    error: str | None = None


def create(session: Session, settings: ServerFields, listing: Listing) -> t.McpServer:
    """A new server and a tool row per tool it listed; stored even when it could not be
    reached (its tools follow once it answers). ``Conflict`` if the name is taken."""
    _check_name_free(session, settings.name)
    row = t.McpServer(id=f"mcp_server-{uuid.uuid4()}")
    _fill(row, settings)
    session.add(row)
    session.flush()
    record_listing(session, row, listing)
    return row


def update(
    session: Session, server_id: str, settings: ServerFields, listing: Listing
) -> t.McpServer:
    """New settings; the tools are synced if the server answered, kept as they were if not."""
    row = get(session, server_id)
    if settings.name != row.name:
        _check_name_free(session, settings.name)
    _fill(row, settings)
    session.flush()
    record_listing(session, row, listing)
    return row


def record_listing(session: Session, row: t.McpServer, listing: Listing) -> SyncReport:
    """Note whether the server answered; if it did, sync its tool rows to what it listed."""
    if listing.tools is None:
        row.reachable = False
        row.last_error = listing.error
        return SyncReport()
    report = sync_tools(session, row, listing.tools)
    row.reachable = True
    row.last_error = None
    row.last_synced_at = utcnow()
    return report


def delete_server(session: Session, server_id: str) -> None:
    """Delete the server and its tool rows; agents carrying those tools lose them."""
    row = get(session, server_id)
    tool_ids = [tool.id for tool in tools_of(session, server_id)]
    if tool_ids:
        session.execute(delete(t.AgentTool).where(t.AgentTool.tool_id.in_(tool_ids)))
        session.execute(delete(t.Tool).where(t.Tool.id.in_(tool_ids)))
    session.delete(row)


def tools_of(session: Session, server_id: str) -> list[t.Tool]:
    rows = session.scalars(
        select(t.Tool).where(t.Tool.tool_type == MCP_TOOL_TYPE).order_by(t.Tool.name)
    )
    return [row for row in rows if server_of(row) == server_id]


def tool_of(session: Session, server_id: str, tool_ref: str) -> t.Tool:
    """One of the server's tools, by tool id or by name."""
    get(session, server_id)
    for row in tools_of(session, server_id):
        if tool_ref in (row.id, row.name, origin_name(row)):
            return row
    raise NotFound(f"tool of mcp server '{server_id}'", tool_ref)


def server_of(tool: t.Tool) -> str | None:
    """The id of the MCP server a tool row came from, or None for other tools."""
    mcp = (tool.metadata_ or {}).get("mcp")
    return mcp.get("server_id") if isinstance(mcp, dict) else None


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def sync_tools(session: Session, server: t.McpServer, listed: list[McpTool]) -> SyncReport:
    """Make the server's tool rows match what it listed: new tools added, changed ones
    updated in place (ids, names and agents' links kept), vanished ones deleted.

    A new tool whose name another tool already has gets the server's name in front
    (``<server>__<tool>``, then a number if need be): tool names are unique, and two
    servers may well both offer a ``search``. Calls still reach the server under the name
    it gave the tool."""
    report = SyncReport()
    mine = {origin_name(row): row for row in tools_of(session, server.id)}
    wanted = [tool.name for tool in listed if tool.name not in mine]
    taken = set(tools.by_names(session, wanted)) | {row.name for row in mine.values()}
    for tool in listed:
        row = mine.pop(tool.name, None)
        if row is None:
            name = free_name(session, server.name, tool.name, taken)
            taken.add(name)
            row = t.Tool(id=new_id("tool"), tool_type=MCP_TOOL_TYPE, name=name)
            session.add(row)
            report.added.append(name)
        elif _changed(row, server, tool):
            report.updated.append(row.name)
        _fill_tool(row, server, tool)
    for row in mine.values():
        session.execute(delete(t.AgentTool).where(t.AgentTool.tool_id == row.id))
        session.delete(row)
        report.removed.append(row.name)
    session.flush()
    return report


MAX_TOOL_NAME = 64
"""The longest function name the model APIs accept."""


def free_name(session: Session, server_name: str, tool_name: str, taken: set[str]) -> str:
    """``tool_name`` if no tool has it, else the server's name and the tool's joined, with
    ``_2``, ``_3``... if even that is taken; shortened to what model APIs accept."""
    if tool_name not in taken and not tools.by_names(session, [tool_name]):
        return tool_name
    stem = f"{_slug(server_name)}__{tool_name}"[:MAX_TOOL_NAME]
    candidate, number = stem, 1
    while candidate in taken or tools.by_names(session, [candidate]):
        number += 1
        suffix = f"_{number}"
        candidate = stem[: MAX_TOOL_NAME - len(suffix)] + suffix
    return candidate


def _slug(name: str) -> str:
    """A server name as it may stand in a function name: letters, digits, ``_`` and ``-``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "mcp"


def origin_name(row: t.Tool) -> str:
    """The name the server itself gives the tool (the row's may carry the server's name)."""
    mcp = (row.metadata_ or {}).get("mcp")
    name = mcp.get("tool_name") if isinstance(mcp, dict) else None
    return name if isinstance(name, str) else row.name


def _changed(row: t.Tool, server: t.McpServer, tool: McpTool) -> bool:
    return row.json_schema != _schema(row.name, tool) or (row.metadata_ or {}).get(
        "mcp"
    ) != _origin(server, tool)


def _fill_tool(row: t.Tool, server: t.McpServer, tool: McpTool) -> None:
    row.description = tool.description
    row.json_schema = _schema(row.name, tool)
    row.source_type = None
    row.source_code = None
    row.tags = [f"mcp:{server.name}"]
    row.metadata_ = {"mcp": _origin(server, tool)}


def _origin(server: t.McpServer, tool: McpTool) -> dict[str, Any]:
    return {"server_id": server.id, "server_name": server.name, "tool_name": tool.name}


def _schema(name: str, tool: McpTool) -> dict[str, Any]:
    """The model-facing schema under the row's name: the MCP input schema as the
    function's parameters."""
    parameters = dict(tool.input_schema) or {"type": "object", "properties": {}}
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    schema: dict[str, Any] = {"name": name, "parameters": parameters}
    if tool.description:
        schema["description"] = tool.description
    return schema


def _check_name_free(session: Session, name: str) -> None:
    existing = session.scalar(select(t.McpServer).where(t.McpServer.name == name))
    if existing is not None:
        raise Conflict(
            f"an MCP server named '{name}' already exists ({existing.id}); "
            "change it with PATCH /v1/mcp-servers/{id} or pick another name"
        )


def _fill(row: t.McpServer, settings: ServerFields) -> None:
    if settings.server_type == STDIO and not settings.command:
        raise InvalidInput("config.command", "a stdio MCP server needs a command to run")
    for f in fields(ServerFields):
        setattr(row, f.name, getattr(settings, f.name))


def mask(secret: str) -> str:
    """A secret as the API shows it: enough to tell two apart, not enough to use."""
    return f"****{secret[-4:]}" if len(secret) >= 12 else "****"


def masked_map(values: dict[str, str] | None) -> dict[str, str] | None:
    return None if values is None else {key: mask(str(value)) for key, value in values.items()}


def _unmasked(sent: Any, stored: Any) -> Any:
    if isinstance(sent, str) and isinstance(stored, str) and sent == mask(stored):
        return stored
    if isinstance(sent, dict) and isinstance(stored, dict):
        return {
            key: stored[key] if key in stored and value == mask(str(stored[key])) else value
            for key, value in sent.items()
        }
    return sent
