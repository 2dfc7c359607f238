"""Where the agent's tool rules meet one step: the tools offered, the calls refused, and
whether the turn goes on (``runtime/tool_rules.py`` holds the rules themselves)."""

from __future__ import annotations

from typing import Any

from engram.llm.client import ToolCall
from engram.runtime.tool_calls import ExecutedCall
from engram.runtime.tool_rules import TurnRules
from engram.store import tables as t


def offered_tools(rules: TurnRules | None, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool schemas the rules allow the model to call next."""
    if rules is None or not rules.rules:
        return tools
    allowed = set(rules.allowed(_tool_name(tool) for tool in tools))
    return [tool for tool in tools if _tool_name(tool) in allowed]


def _tool_name(schema: dict[str, Any]) -> str:
    return str(schema.get("function", schema).get("name", ""))


def refused_calls(
    rules: TurnRules | None, tools: list[t.Tool], calls: list[ToolCall]
) -> dict[str, ExecutedCall]:
    """Calls that break a tool rule: answered with an error, never run."""
    if rules is None or not rules.rules or not calls:
        return {}
    reasons = rules.refusals([call.name for call in calls], [tool.name for tool in tools])
    return {
        call.id: ExecutedCall(call.id, call.name, f"Error: {reason}", True, False)
        for call, reason in zip(calls, reasons, strict=True)
        if reason is not None
    }


def rules_verdict(
    rules: TurnRules, executed: list[ExecutedCall], more: bool
) -> tuple[bool, TurnRules, str | None]:
    """Whether the turn goes on, the rules as this step leaves them, and a note for the
    model: a terminal tool ends the turn, a continue rule prolongs it, and a tool the
    rules require before ending keeps it open with a note saying which."""
    ran = [(call.name, call.output) for call in executed if not call.failed]
    after = rules.after(ran)
    names = [name for name, _ in ran]
    if after.ends_turn(names):
        return False, after, None
    if after.keeps_going(names):
        return True, after, None
    missing = after.missing_before_exit()
    if not more and missing:
        wanted = ", ".join(f"'{name}'" for name in missing)
        return True, after, f"Tool rules: before ending your turn you must call {wanted}."
    return more, after, None
