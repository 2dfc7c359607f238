"""The parts of an agent file this server cannot hold yet, and what an import does with
them: by default it refuses the file naming every such part; with ``strip_unsupported``
it leaves them out, imports the rest and lists each part it left out, never dropping one
silently.

Left out today: agent groups other than sleep-time pairs (sleeptime_groups.py) and agents
of types this server does not run, ``skills``, ``mcp_servers`` (a file carries an MCP
server's command or URL without its credentials; servers are registered through
``/v1/mcp-servers/``) with the tools of MCP servers, and built-in tools this server does
not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from engram.errors import InvalidInput
from engram.mcp.registry import MCP_TOOL_TYPE
from engram.ops.agent_file.document import AgentFile, FileAgent, FileTool
from engram.ops.agent_file.sleeptime_groups import importable_pairs
from engram.ops.agents import AGENT_TYPES
from engram.runtime.builtin_tools import BUILTIN_SCHEMAS

STRIP_FLAG = "strip_unsupported"

# Whole top-level parts, each left out with the reason said for it.
_PARTS = {
    "skills": "skills are not imported",
    "mcp_servers": "MCP servers are registered through /v1/mcp-servers/, not from a file",
}


@dataclass(frozen=True)
class Adjustment:
    """One part of the file an import left out or changed: where it is in the file
    (``groups.0``, ``agents.1``, ``tools.3``...), which of the two, and why."""

    part: str
    change: Literal["left_out", "changed"]
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"part": self.part, "change": self.change, "detail": self.detail}


def settle_unsupported(document: AgentFile, strip: bool) -> list[Adjustment]:
    """What the import leaves out. Without ``strip``, any such part is an InvalidInput
    naming all of them; with it, they are removed from ``document`` and returned."""
    found = find_unsupported(document)
    if not found:
        return []
    if not strip:
        said = "; ".join(f"{item.part}: {item.detail}" for item in found)
        raise InvalidInput(
            "file",
            f"this server cannot import every part of the file ({said}). Pass "
            f"{STRIP_FLAG}=true to import the rest; the answer lists what was left out",
        )
    _strip(document, {item.part for item in found})
    if not document.agents:
        raise InvalidInput("file.agents", "no agent of the file can be imported here")
    return found


def find_unsupported(document: AgentFile) -> list[Adjustment]:
    """Every part of the file an import would have to leave out, in file order."""
    pairs = importable_pairs(document)
    sleepers = {pair.sleeper for pair in pairs.values()}
    found = [
        Adjustment(f"groups.{i}", "left_out", f"{_group(group)}: agent groups are not imported")
        for i, group in enumerate(document.groups)
        if i not in pairs
    ]
    for name, why in _PARTS.items():
        found.extend(
            Adjustment(f"{name}.{i}", "left_out", f"{_named(item)}: {why}")
            for i, item in enumerate(getattr(document, name))
        )
    kept: list[FileAgent] = []
    for i, agent in enumerate(document.agents):
        if agent.agent_type not in AGENT_TYPES and agent.id not in sleepers:
            said = f"agent '{agent.name or agent.id}' of type '{agent.agent_type}'"
            found.append(Adjustment(f"agents.{i}", "left_out", f"{said}, which is not run here"))
            continue
        kept.append(agent)
    used = {ref for agent in kept for ref in agent.tool_ids}
    for i, tool in enumerate(document.tools):
        problem = _tool_problem(tool)
        if tool.id in used and problem:
            said = f"tool '{tool.tool_name}': {problem}"
            found.append(Adjustment(f"tools.{i}", "left_out", said))
    return found


def _tool_problem(tool: FileTool) -> str | None:
    if (tool.tool_name or "") in BUILTIN_SCHEMAS:
        return None
    if tool.tool_type == MCP_TOOL_TYPE:
        return "an MCP server's tool; attach it from a registered server after the import"
    if tool.tool_type.startswith("letta_"):
        return "a built-in tool this server does not have"
    return None


def _strip(document: AgentFile, parts: set[str]) -> None:
    document.groups = [
        group for i, group in enumerate(document.groups) if f"groups.{i}" not in parts
    ]
    for name in _PARTS:
        setattr(document, name, [])
    document.agents = [
        agent for i, agent in enumerate(document.agents) if f"agents.{i}" not in parts
    ]
    dropped = {tool.id for i, tool in enumerate(document.tools) if f"tools.{i}" in parts}
    document.tools = [tool for tool in document.tools if tool.id not in dropped]
    for agent in document.agents:
        agent.tool_ids = [ref for ref in agent.tool_ids if ref not in dropped]


def _group(group: Any) -> str:
    if not isinstance(group, dict):
        return "a group"
    config = group.get("manager_config")
    kind = config.get("manager_type") if isinstance(config, dict) else None
    return f"{kind or 'round_robin'} group '{group.get('id')}'"


def _named(item: Any) -> str:
    if not isinstance(item, dict):
        return "an entry"
    name = item.get("name") or item.get("server_name") or item.get("file_name")
    return f"'{name or item.get('id')}'"
