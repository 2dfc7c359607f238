"""Running the built-in tools that leave the process (``run_code``, ``fetch_webpage``,
``web_search``) before a step's transaction, like custom and MCP tools.

Each call of an attached built-in of this kind is checked against its schema, run, and
turned into an ``ExecutedCall`` that ``execute_calls`` records in order with the rest.
Every failure (an unsupported language, a page that does not load, a search service that
is down or not configured, the agent's tools having no network) is a tool error the model
reads; none ends the run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from engram.llm.client import ToolCall
from engram.runtime.tool_calls import (
    CallInput,
    ExecutedCall,
    side_by_side,
    tool_network_allowed,
)
from engram.store import tables as t
from engram.tools.builtins import BUILTIN_TOOL_SCHEMAS, BUILTIN_TOOL_TYPE
from engram.tools.confinement import sandbox_in_force
from engram.tools.run_code import language_problem, run_code
from engram.tools.sandbox import SandboxLimits, truncate
from engram.tools.web import FetchLimits, WebToolError, fetch_webpage
from engram.tools.web_search import SearchRequest, web_search

if TYPE_CHECKING:
    from engram.config import Settings

log = logging.getLogger(__name__)


class BuiltinExternalDeps(Protocol):
    """What these tools use: the settings (sandbox, limits, the search backend)."""

    @property
    def settings(self) -> Settings: ...


class _Refused(Exception):
    """A call this tool will not run; the message is what the model reads."""


async def run_builtin_external_calls(
    deps: BuiltinExternalDeps, agent: t.Agent, tools: list[t.Tool], calls: list[ToolCall]
) -> dict[str, ExecutedCall]:
    """Run the calls naming an attached ``run_code``, ``fetch_webpage`` or ``web_search``,
    a few at a time; the results by call id. Other calls are left to the other runners."""
    attached = {
        tool.name: tool
        for tool in tools
        if tool.tool_type == BUILTIN_TOOL_TYPE and tool.name in BUILTIN_TOOL_SCHEMAS
    }
    wanted = [call for call in calls if call.name in attached]
    if not wanted:
        return {}
    return await side_by_side(
        wanted, lambda call: _run_one(deps.settings, agent, attached[call.name], call)
    )


async def _run_one(
    settings: Settings, agent: t.Agent, tool: t.Tool, call: ToolCall
) -> ExecutedCall:
    read = CallInput.of(call)
    fail, arguments = read.fail, read.arguments
    if arguments is None:
        return read.not_an_object()
    problem = _schema_problem(call.name, arguments)
    if problem:
        return fail(f"{call.name}: {problem}", malformed=True)
    try:
        if call.name == "run_code":
            output, failed = await _run_code(settings, agent, tool, arguments)
        elif call.name == "fetch_webpage":
            output, failed = await _fetch(settings, agent, tool, arguments), False
        else:
            output, failed = await web_search(settings, _search_request(arguments)), False
    except (_Refused, WebToolError) as exc:
        return fail(str(exc))
    except Exception as exc:  # a bug here must not end the agent's run
        log.exception("tool %s raised", call.name)
        return fail(f"{call.name} failed: {type(exc).__name__}: {exc}")
    if not failed:
        output = truncate(output, tool.return_char_limit)
    return read.answer(output, failed=failed)


async def _run_code(
    settings: Settings, agent: t.Agent, tool: t.Tool, arguments: dict[str, Any]
) -> tuple[str, bool]:
    code = _text(arguments, "code")
    problem = language_problem(arguments.get("language"))
    if problem:
        raise _Refused(problem)
    ran = await run_code(
        code,
        limits=SandboxLimits.from_settings(settings),
        sandbox=sandbox_in_force(settings),
        network=tool_network_allowed(tool, agent),
    )
    return ran.output, ran.failed


async def _fetch(
    settings: Settings, agent: t.Agent, tool: t.Tool, arguments: dict[str, Any]
) -> str:
    url = _text(arguments, "url")
    if not tool_network_allowed(tool, agent):
        raise _Refused(
            "this agent's tools may not use the network, so fetch_webpage cannot load pages; "
            "the agent's owner can allow it with metadata.tool_network=true on the agent"
        )
    limits = FetchLimits(
        timeout_seconds=settings.web_fetch_timeout_seconds,
        max_bytes=settings.web_fetch_max_bytes,
        private_addresses=settings.web_fetch_private_addresses,
    )
    return await fetch_webpage(url, limits)


def _search_request(arguments: dict[str, Any]) -> SearchRequest:
    query = _text(arguments, "query")
    count = arguments.get("num_results", 10)
    if isinstance(count, bool) or not isinstance(count, int):
        raise _Refused(f"num_results must be an integer, got {count!r}")
    return SearchRequest(
        query=query,
        num_results=count,
        category=_optional_text(arguments, "category"),
        include_text=bool(arguments.get("include_text", False)),
        include_domains=_strings(arguments, "include_domains"),
        exclude_domains=_strings(arguments, "exclude_domains"),
        start_published_date=_optional_text(arguments, "start_published_date"),
        end_published_date=_optional_text(arguments, "end_published_date"),
        user_location=_optional_text(arguments, "user_location"),
    )


def _schema_problem(name: str, arguments: dict[str, Any]) -> str | None:
    parameters = BUILTIN_TOOL_SCHEMAS[name]["parameters"]
    known = set(parameters["properties"])
    unknown = sorted(set(arguments) - known)
    if unknown:
        return f"unexpected argument(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}"
    missing = [key for key in parameters["required"] if key not in arguments]
    if missing:
        return f"missing required argument(s): {', '.join(missing)}"
    return None


def _text(arguments: dict[str, Any], key: str) -> str:
    value = arguments.get(key)
    if not isinstance(value, str):
        raise _Refused(f"{key} must be a string, got {type(value).__name__}")
    return value


def _optional_text(arguments: dict[str, Any], key: str) -> str | None:
    return None if arguments.get(key) is None else _text(arguments, key)


def _strings(arguments: dict[str, Any], key: str) -> list[str]:
    value = arguments.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Refused(f"{key} must be a list of strings")
    return list(value)
