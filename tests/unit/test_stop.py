"""How a turn ends, as a pure rule: ``decide`` weighs one step's outcome, the tool rules'
say and the turn's limits without a database or a model; ``ending_of`` says what a run
records when an exception stops its turn."""

from __future__ import annotations

import asyncio

import pytest

from engram.errors import Conflict, ContextOverflow, NotFound, ProviderError
from engram.runtime.step_rules import RuleVerdict, judge
from engram.runtime.stop import (
    Ending,
    StepOutcome,
    TurnEnded,
    TurnLimits,
    decide,
    ending_of,
    gave_up_error,
    nudge,
)
from engram.runtime.tool_calls import ExecutedCall
from engram.runtime.tool_rules import TurnRules

LIMITS = TurnLimits(max_steps=5, max_invalid_tool_calls=3)
NO_RULES = RuleVerdict(TurnRules([]))


def ran(name: str = "search", *, failed: bool = False, heartbeat: bool = False) -> ExecutedCall:
    return ExecutedCall(f"call-{name}", name, "ok", failed, heartbeat)


def malformed() -> ExecutedCall:
    return ExecutedCall("call-bad", "nope", "Error: unknown tool", True, False, malformed=True)


def outcome(
    *calls: ExecutedCall,
    step: int = 1,
    held: int = 0,
    heartbeat_agent: bool = False,
    invalid_calls: int = 0,
    called_tools: bool | None = None,
) -> StepOutcome:
    return StepOutcome(
        step_number=step,
        called_tools=bool(calls or held) if called_tools is None else called_tools,
        executed=list(calls),
        held=held,
        heartbeat_agent=heartbeat_agent,
        invalid_calls=invalid_calls,
    )


def test_an_answer_without_tool_calls_ends_the_turn() -> None:
    assert decide(outcome(), NO_RULES, LIMITS) == "end_turn"


def test_a_tool_call_gets_the_model_another_step_until_the_steps_run_out() -> None:
    assert decide(outcome(ran(), step=1), NO_RULES, LIMITS) is None
    assert decide(outcome(ran(), step=4), NO_RULES, LIMITS) is None
    assert decide(outcome(ran(), step=5), NO_RULES, LIMITS) == "max_steps"


def test_a_heartbeat_agent_goes_on_only_when_asked_or_after_a_failure() -> None:
    assert decide(outcome(ran(), heartbeat_agent=True), NO_RULES, LIMITS) == "end_turn"
    asked = outcome(ran(heartbeat=True), heartbeat_agent=True)
    assert decide(asked, NO_RULES, LIMITS) is None
    failed = outcome(ran(failed=True), heartbeat_agent=True)
    assert decide(failed, NO_RULES, LIMITS) is None


def test_held_calls_wait_for_approval() -> None:
    assert decide(outcome(held=1), NO_RULES, LIMITS) == "requires_approval"
    assert decide(outcome(ran(), held=2, step=5), NO_RULES, LIMITS) == "requires_approval"


def test_malformed_calls_past_the_limit_give_the_model_up() -> None:
    at_limit = outcome(malformed(), invalid_calls=3)
    assert decide(at_limit, NO_RULES, LIMITS) is None
    past = outcome(malformed(), invalid_calls=4, held=1)
    assert decide(past, NO_RULES, LIMITS) == "error", "giving up outranks waiting"
    assert "4 malformed tool calls" in gave_up_error(past, LIMITS)
    assert "the limit is 3" in gave_up_error(past, LIMITS)
    # Earlier malformed calls alone do not end a step that made none.
    assert decide(outcome(ran(), invalid_calls=4), NO_RULES, LIMITS) is None


def test_tool_rules_end_prolong_or_hold_open_a_turn() -> None:
    ends = RuleVerdict(TurnRules([]), ends=True)
    assert decide(outcome(ran()), ends, LIMITS) == "end_turn"
    continues = RuleVerdict(TurnRules([]), continues=True)
    assert decide(outcome(ran(), heartbeat_agent=True), continues, LIMITS) is None
    missing = RuleVerdict(TurnRules([]), missing=("save", "finish"))
    quiet = outcome()
    assert decide(quiet, missing, LIMITS) is None
    assert (
        nudge(quiet, missing)
        == "Tool rules: before ending your turn you must call 'save', 'finish'."
    )
    assert nudge(outcome(ran()), missing) is None, "the model goes on anyway: no note"
    assert decide(outcome(step=5), missing, LIMITS) == "max_steps"


def test_judge_reads_the_rules_after_the_steps_successful_calls() -> None:
    rules = TurnRules(
        [
            {"type": "exit_loop", "tool_name": "finish"},
            {"type": "continue_loop", "tool_name": "search"},
            {"type": "required_before_exit", "tool_name": "save"},
        ]
    )
    finished = judge(rules, [ran("finish")])
    assert finished.ends and not finished.continues
    assert finished.missing == ("save",)
    assert finished.rules.called == ["finish"]
    failed = judge(rules, [ran("finish", failed=True), ran("search")])
    assert not failed.ends and failed.continues
    assert judge(rules, [ran("save")]).missing == ()
    assert rules.called == [], "judging leaves the turn's rules as they were"


@pytest.mark.parametrize(
    ("error", "stop_reason", "reraised"),
    [
        (ContextOverflow("too long"), "context_window_overflow_in_system_prompt", False),
        (ProviderError("down"), "llm_api_error", False),
        (Conflict("busy"), "error", True),
        (asyncio.CancelledError(), "cancelled", True),
        (RuntimeError("bug"), "error", True),
    ],
)
def test_an_exception_ends_the_turn_with_what_the_run_records(
    error: BaseException, stop_reason: str, reraised: bool
) -> None:
    ending, reraise = ending_of(error, run_saved=True)
    assert (ending.stop_reason, reraise, ending.recorded) == (stop_reason, reraised, False)


def test_error_texts_say_what_went_wrong() -> None:
    overflow, _ = ending_of(ContextOverflow("too long"), run_saved=True)
    assert overflow.error is not None and "context_window_limit" in overflow.error
    bug, _ = ending_of(RuntimeError("bug"), run_saved=True)
    assert bug.error == "internal error (RuntimeError): bug"
    assert ending_of(asyncio.CancelledError(), run_saved=True)[0].error is None


def test_an_unknown_agent_leaves_nothing_to_record_for_an_unsaved_run() -> None:
    assert ending_of(NotFound("agent", "agent-1"), run_saved=False)[0].recorded
    assert not ending_of(NotFound("agent", "agent-1"), run_saved=True)[0].recorded


def test_a_turn_ended_on_purpose_carries_its_ending() -> None:
    chosen = Ending("error", "run 'run-1' is completed already", recorded=True)
    assert ending_of(TurnEnded(chosen), run_saved=True) == (chosen, False)
