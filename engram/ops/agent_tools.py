"""An agent's settings for one of its tools: whether its calls wait for approval.

Letta's ``PATCH /v1/agents/{agent_id}/tools/approval/{tool_name}`` edits the agent's
``requires_approval`` tool rules, the same rules a client may set through ``tool_rules``:
the rules stay the one place that says which calls wait (runtime/approvals.py reads them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engram.errors import Conflict, ToolNotAttached
from engram.ops.agents import AgentBundle, bundle
from engram.ops.deps import HasDb
from engram.store import agents, tools
from engram.store import tables as t

RULE_TYPE = "requires_approval"


def _is_rule_for(rule: Any, tool_name: str) -> bool:
    return (
        isinstance(rule, dict)
        and rule.get("type") == RULE_TYPE
        and rule.get("tool_name") == tool_name
    )


def with_approval(rules: list[Any], tool_name: str, required: bool) -> list[Any]:
    """``rules`` with exactly one ``requires_approval`` rule for ``tool_name`` (``required``)
    or none; the other rules keep their order."""
    kept = [rule for rule in rules if not _is_rule_for(rule, tool_name)]
    if not required:
        return kept
    existing = next((rule for rule in rules if _is_rule_for(rule, tool_name)), None)
    return [*kept, existing or {"type": RULE_TYPE, "tool_name": tool_name}]


def _attached(session: Session, agent_id: str, tool_name: str) -> t.Tool:
    attached = tools.for_agent(session, agent_id)
    for tool in attached:
        if tool.name == tool_name:
            return tool
    raise ToolNotAttached(agent_id, tool_name, [tool.name for tool in attached])


async def set_requires_approval(
    deps: HasDb, agent_id: str, tool_name: str, required: bool
) -> AgentBundle:
    """Require (or stop requiring) approval for calls of an attached tool; idempotent.

    Raises NotFound for an unknown agent or a tool the agent does not have, and Conflict
    when lifting approval from a tool that requires it by default (``default_requires_approval``
    is the tool's own setting, shared by every agent: no rule of one agent overrides it)."""

    def _write(session: Session) -> AgentBundle:
        agent = agents.get(session, agent_id)
        tool = _attached(session, agent_id, tool_name)
        if not required and tool.default_requires_approval:
            raise Conflict(
                f"tool '{tool_name}' requires approval by default (default_requires_approval "
                f"is set on tool '{tool.id}'), for every agent: clear it with "
                f"PATCH /v1/tools/{tool.id} to stop asking"
            )
        rules = with_approval(list(agent.tool_rules or []), tool_name, required)
        if rules != list(agent.tool_rules or []):
            agent.tool_rules = rules
            session.flush()
        return bundle(session, agent_id)

    return await deps.db.write(_write)
