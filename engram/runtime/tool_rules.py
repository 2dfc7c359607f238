"""Tool rules: which tools an agent may call when, and which calls end or prolong a turn.

Rules are stored on the agent in Letta's shapes (``type`` plus ``tool_name`` and the
type's own fields) and enforced by the step loop twice over: the model is only offered
the tools the rules allow next, and a call that breaks a rule anyway (models do not
always keep to the list) becomes an error tool result instead of running.

Kinds (Letta's ``type`` values):

- ``run_first``: the turn's first call must be one of these tools.
- ``constrain_child_tools``: after ``tool_name``, only ``children`` may follow.
- ``conditional``: after ``tool_name``, the next tool is chosen by its output
  (``child_output_mapping``, else ``default_child``; with ``require_output_mapping`` an
  unmapped output allows nothing but ending the turn).
- ``parent_last_tool``: ``children`` may only be called right after ``tool_name``.
- ``max_count_per_step``: at most ``max_count_limit`` calls of ``tool_name`` per step.
- ``exit_loop``: a successful call of ``tool_name`` ends the turn.
- ``continue_loop``: a call of ``tool_name`` always gets the model another step.
- ``required_before_exit``: the turn cannot end before ``tool_name`` was called.
- ``requires_approval``: recognised and stored; not enforced by this module.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engram.errors import InvalidInput

KNOWN_TYPES = {
    "run_first": (),
    "constrain_child_tools": ("children",),
    "conditional": ("child_output_mapping",),
    "parent_last_tool": ("children",),
    "max_count_per_step": ("max_count_limit",),
    "exit_loop": (),
    "continue_loop": (),
    "required_before_exit": (),
    "requires_approval": (),
}
"""Each rule type and the fields it needs besides ``tool_name``."""


def check_rules(rules: Sequence[Any]) -> None:
    """Refuse rules the loop could not follow, naming the rule and its field."""
    for index, rule in enumerate(rules):
        where = f"tool_rules[{index}]"
        if not isinstance(rule, dict):
            raise InvalidInput(where, "must be an object with 'type' and 'tool_name'")
        kind = rule.get("type")
        if kind not in KNOWN_TYPES:
            raise InvalidInput(
                f"{where}.type", f"'{kind}' is not one of {', '.join(sorted(KNOWN_TYPES))}"
            )
        if not isinstance(rule.get("tool_name"), str) or not rule["tool_name"]:
            raise InvalidInput(f"{where}.tool_name", "must name a tool")
        for needed in KNOWN_TYPES[kind]:
            if rule.get(needed) in (None, "", [], {}):
                raise InvalidInput(f"{where}.{needed}", f"a '{kind}' rule needs {needed}")
        if kind in ("constrain_child_tools", "parent_last_tool"):
            children = rule["children"]
            if not isinstance(children, list) or not all(isinstance(c, str) for c in children):
                raise InvalidInput(f"{where}.children", "must be a list of tool names")
        if kind == "max_count_per_step":
            limit = rule["max_count_limit"]
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise InvalidInput(f"{where}.max_count_limit", "must be a positive integer")
        if kind == "conditional" and not isinstance(rule["child_output_mapping"], dict):
            raise InvalidInput(
                f"{where}.child_output_mapping", "must map tool outputs to tool names"
            )


@dataclass
class TurnRules:
    """One turn's view of the agent's rules: what was called, and what may come next."""

    rules: list[dict[str, Any]]
    called: list[str] = field(default_factory=list)
    last_output: str | None = None

    def _of(self, kind: str) -> list[dict[str, Any]]:
        return [rule for rule in self.rules if rule.get("type") == kind]

    def _names(self, kind: str) -> set[str]:
        return {rule["tool_name"] for rule in self._of(kind)}

    def allowed(self, available: Iterable[str]) -> list[str]:
        """The tools the model may call next, in ``available``'s order."""
        names = list(available)
        allowed = set(names)
        if not self.called and (first := self._names("run_first")):
            allowed &= first
        last = self.called[-1] if self.called else None
        for rule in self._of("constrain_child_tools"):
            if rule["tool_name"] == last:
                allowed &= set(rule["children"])
        for rule in self._of("conditional"):
            if rule["tool_name"] == last:
                allowed &= self._conditional_children(rule)
        for rule in self._of("parent_last_tool"):
            if last != rule["tool_name"]:
                allowed -= set(rule["children"])
        return [name for name in names if name in allowed]

    def _conditional_children(self, rule: dict[str, Any]) -> set[str]:
        output = _output_value(self.last_output)
        mapping = {str(key): value for key, value in rule["child_output_mapping"].items()}
        chosen = mapping.get(str(output)) if output is not None else None
        if chosen is None:
            chosen = None if rule.get("require_output_mapping") else rule.get("default_child")
        return {chosen} if chosen else set()

    def refusal(self, name: str, available: Iterable[str], step_counts: Counter[str]) -> str | None:
        """Why the call of ``name`` breaks a rule (the model reads this), or None.
        ``step_counts`` holds the calls of this step so far, this one included."""
        allowed = self.allowed(available)
        if name not in allowed:
            choice = ", ".join(allowed) if allowed else "none: end your turn"
            return f"tool rules do not allow calling '{name}' now; allowed next: {choice}"
        for rule in self._of("max_count_per_step"):
            if rule["tool_name"] == name and step_counts[name] > rule["max_count_limit"]:
                return f"tool rules allow '{name}' at most {rule['max_count_limit']} times per step"
        return None

    def record(self, name: str, output: str | None) -> None:
        """A call that ran (successfully): it moves the rules along."""
        self.called.append(name)
        self.last_output = output

    def after(self, ran: Iterable[tuple[str, str]]) -> TurnRules:
        """A copy that has also seen these successful (name, output) calls."""
        later = TurnRules(self.rules, list(self.called), self.last_output)
        for name, output in ran:
            later.record(name, output)
        return later

    def refusals(self, names: Sequence[str], available: Sequence[str]) -> list[str | None]:
        """For one model response's calls in order, why each breaks a rule (or None).
        Calls are judged as if the allowed ones before them had run; their outputs are
        not known yet, so a conditional rule falls back to its default child."""
        probe = TurnRules(self.rules, list(self.called), self.last_output)
        counts: Counter[str] = Counter()
        reasons: list[str | None] = []
        for name in names:
            counts[name] += 1
            reason = probe.refusal(name, available, counts)
            reasons.append(reason)
            if reason is None:
                probe.record(name, None)
        return reasons

    def ends_turn(self, names: Iterable[str]) -> bool:
        return bool(self._names("exit_loop") & set(names))

    def keeps_going(self, names: Iterable[str]) -> bool:
        return bool(self._names("continue_loop") & set(names))

    def missing_before_exit(self) -> list[str]:
        done = set(self.called)
        return sorted(name for name in self._names("required_before_exit") if name not in done)


def _output_value(output: str | None) -> Any:
    """A tool's output as the value conditional rules map: JSON if it parses, else text."""
    if output is None:
        return None
    try:
        value = json.loads(output)
    except ValueError:
        return output.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
