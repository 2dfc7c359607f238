"""Tool rules as a pure policy: what may be called next, and what a turn may end on."""

from __future__ import annotations

from collections import Counter

import pytest

from engram.errors import InvalidInput
from engram.runtime.tool_rules import TurnRules, check_rules

TOOLS = ["search", "answer", "lookup", "save", "finish"]


def test_without_rules_everything_is_allowed() -> None:
    rules = TurnRules([])
    assert rules.allowed(TOOLS) == TOOLS
    assert rules.refusal("save", TOOLS, Counter(save=1)) is None
    assert not rules.ends_turn(["save"])
    assert rules.missing_before_exit() == []


def test_run_first_limits_only_the_first_call() -> None:
    rules = TurnRules([{"type": "run_first", "tool_name": "search"}])
    assert rules.allowed(TOOLS) == ["search"]
    assert "allowed next: search" in (rules.refusal("save", TOOLS, Counter(save=1)) or "")
    rules.record("search", "[]")
    assert rules.allowed(TOOLS) == TOOLS


def test_child_rule_limits_what_follows_its_tool() -> None:
    rules = TurnRules(
        [{"type": "constrain_child_tools", "tool_name": "search", "children": ["answer", "save"]}]
    )
    rules.record("search", "found")
    assert rules.allowed(TOOLS) == ["answer", "save"]
    rules.record("answer", "ok")
    assert rules.allowed(TOOLS) == TOOLS


def test_conditional_rule_picks_the_next_tool_by_output() -> None:
    rule = {
        "type": "conditional",
        "tool_name": "lookup",
        "child_output_mapping": {"true": "answer", "false": "search"},
        "default_child": "finish",
    }
    rules = TurnRules([rule])
    rules.record("lookup", "true")
    assert rules.allowed(TOOLS) == ["answer"]
    rules.record("lookup", '"false"')
    assert rules.allowed(TOOLS) == ["search"]
    rules.record("lookup", "maybe")
    assert rules.allowed(TOOLS) == ["finish"]
    strict = TurnRules([{**rule, "default_child": None, "require_output_mapping": True}])
    strict.record("lookup", "maybe")
    assert strict.allowed(TOOLS) == []
    assert "end your turn" in (strict.refusal("save", TOOLS, Counter(save=1)) or "")


def test_parent_rule_allows_children_only_right_after_the_parent() -> None:
    rules = TurnRules([{"type": "parent_last_tool", "tool_name": "search", "children": ["save"]}])
    assert "save" not in rules.allowed(TOOLS)
    rules.record("search", "x")
    assert "save" in rules.allowed(TOOLS)


def test_max_count_per_step() -> None:
    rules = TurnRules([{"type": "max_count_per_step", "tool_name": "save", "max_count_limit": 2}])
    assert rules.refusal("save", TOOLS, Counter(save=2)) is None
    assert "at most 2" in (rules.refusal("save", TOOLS, Counter(save=3)) or "")


def test_terminal_continue_and_required_before_exit() -> None:
    rules = TurnRules(
        [
            {"type": "exit_loop", "tool_name": "finish"},
            {"type": "continue_loop", "tool_name": "save"},
            {"type": "required_before_exit", "tool_name": "save"},
        ]
    )
    assert rules.ends_turn(["search", "finish"])
    assert rules.keeps_going(["save"])
    assert rules.missing_before_exit() == ["save"]
    rules.record("save", "ok")
    assert rules.missing_before_exit() == []


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([{"tool_name": "x"}], "tool_rules[0].type"),
        ([{"type": "teleport", "tool_name": "x"}], "tool_rules[0].type"),
        ([{"type": "exit_loop"}], "tool_rules[0].tool_name"),
        ([{"type": "constrain_child_tools", "tool_name": "x"}], "tool_rules[0].children"),
        (
            [{"type": "max_count_per_step", "tool_name": "x", "max_count_limit": 0}],
            "tool_rules[0].max_count_limit",
        ),
        (
            [{"type": "conditional", "tool_name": "x", "child_output_mapping": ["a"]}],
            "tool_rules[0].child_output_mapping",
        ),
        (["exit_loop"], "tool_rules[0]"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(rules: list, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_rules(rules)
    assert caught.value.field == field


def test_letta_shaped_rules_pass() -> None:
    check_rules(
        [
            {"type": "run_first", "tool_name": "a", "prompt_template": None, "args": None},
            {"type": "exit_loop", "tool_name": "b", "prompt_template": None},
            {"type": "requires_approval", "tool_name": "c"},
        ]
    )
