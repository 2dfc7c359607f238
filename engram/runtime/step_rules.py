"""Where the agent's tool rules meet one step: the tools offered, the calls refused, and
what they say about a step's calls (``runtime/tool_rules.py`` holds the rules themselves)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
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
    rules: TurnRules | None,
    tools: list[t.Tool],
    calls: list[ToolCall],
    also: Collection[str] = (),
) -> dict[str, ExecutedCall]:
    """Calls that break a tool rule: answered with an error, never run. ``also``: names
    the model may call beside the agent's tools (the request's client tools)."""
    if rules is None or not rules.rules or not calls:
        return {}
    available = [tool.name for tool in tools] + list(also)
    reasons = rules.refusals([call.name for call in calls], available)
    return {
        call.id: ExecutedCall(call.id, call.name, f"Error: {reason}", True, False)
        for call, reason in zip(calls, reasons, strict=True)
        if reason is not None
    }


@dataclass(frozen=True)
class RuleVerdict:
    """What the tool rules say once one step's calls ran (``stop.decide`` weighs it)."""

    rules: TurnRules
    """The rules as this step leaves them."""
    ends: bool = False
    """A terminal (``exit_loop``) tool ran."""
    continues: bool = False
    """A ``continue_loop`` tool ran."""
    missing: tuple[str, ...] = ()
    """Tools the rules require before the turn may end that were not called yet."""


def judge(rules: TurnRules, executed: list[ExecutedCall]) -> RuleVerdict:
    """The rules' say on one step: the successful calls move them on, a terminal tool ends
    the turn, a continue rule prolongs it, and a tool required before ending keeps it open."""
    ran = [(call.name, call.output) for call in executed if not call.failed]
    after = rules.after(ran)
    names = [name for name, _ in ran]
    return RuleVerdict(
        after,
        ends=after.ends_turn(names),
        continues=after.keeps_going(names),
        missing=tuple(after.missing_before_exit()),
    )
