"""Tool calls that leave the process (MCP servers), run before a step's transaction.

A call to an MCP server may take seconds; holding the database's write transaction that
long would stall every other agent. So the step runs these calls first, with no
transaction open, and hands the finished results to ``execute_calls``, which records them
in order with the rest. Every failure (a server down, a call past its timeout, a tool that
reports an error) becomes an error result the model reads; none ends the run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from engram.llm.client import ToolCall
from engram.mcp import McpServerError, McpSessions, ServerConfig, registry
from engram.runtime.tool_calls import CallInput, ExecutedCall, side_by_side
from engram.store import tables as t
from engram.tools.sandbox import truncate

if TYPE_CHECKING:
    from engram.store.db import Database

log = logging.getLogger(__name__)


class ExternalToolDeps(Protocol):
    """What calling MCP tools uses: the servers' rows and the open sessions to them."""

    @property
    def db(self) -> Database: ...

    @property
    def mcp_sessions(self) -> McpSessions: ...


async def run_external_calls(
    deps: ExternalToolDeps, tools: list[t.Tool], calls: list[ToolCall]
) -> dict[str, ExecutedCall]:
    """Run the calls of ``calls`` that go to attached MCP tools, concurrently; the results
    by call id. Calls to other tools are left for ``execute_calls``."""
    external = {tool.name: tool for tool in tools if tool.tool_type == registry.MCP_TOOL_TYPE}
    wanted = [call for call in calls if call.name in external]
    if not wanted:
        return {}
    server_ids = {registry.server_of(external[call.name]) for call in wanted}
    configs = await deps.db.read(lambda session: _configs(session, server_ids))
    return await side_by_side(
        wanted, lambda call: _run_one(deps.mcp_sessions, call, external[call.name], configs)
    )


def _configs(session: Session, server_ids: set[str | None]) -> dict[str, ServerConfig]:
    found = {}
    for server_id in server_ids:
        row = session.get(t.McpServer, server_id) if server_id else None
        if row is not None:
            found[row.id] = registry.fields_of(row).config()
    return found


async def _run_one(
    sessions: McpSessions, call: ToolCall, tool: t.Tool, configs: dict[str, ServerConfig]
) -> ExecutedCall:
    read = CallInput.of(call)
    fail, arguments = read.fail, read.arguments
    if arguments is None:
        return read.not_an_object()
    server_id = registry.server_of(tool) or ""
    config = configs.get(server_id)
    if config is None:
        return fail(f"tool '{call.name}' belongs to an MCP server that is no longer registered")
    origin = (tool.metadata_ or {}).get("mcp", {})
    try:
        result = await sessions.call_tool(
            server_id, config, origin.get("tool_name", tool.name), arguments
        )
    except McpServerError as exc:
        log.warning("tool %s: %s", call.name, exc)
        return fail(str(exc))
    output = truncate(result.text, tool.return_char_limit)
    if result.is_error:
        return fail(output)
    return read.answer(output)
