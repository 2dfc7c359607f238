"""How a turn ends: the stop reasons, the pure rule that picks one after a step, and the
endings that stop a turn on the way (raised, and caught once, in ``step.run_turn``).

``decide`` needs no database and no model: given what one step did, what the tool rules
say about it and the turn's limits, it says whether the turn goes on (None) or why it
stops. Everything else that ends a turn (a cancelled run, a model call that failed, a run
another worker took) is an exception carrying what the run records: ``TurnEnded`` for the
endings the turn itself chooses, and ``ending_of`` for any other exception that stops it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from engram.errors import ContextOverflow, EngramError, NotFound, ProviderError
from engram.runtime.step_rules import RuleVerdict
from engram.runtime.tool_calls import ExecutedCall

StopReason = Literal[
    "end_turn",
    "max_steps",
    "requires_approval",
    "cancelled",
    "error",
    "llm_api_error",
    "context_window_overflow_in_system_prompt",
]
"""The stop reasons Engram gives a run, each one of Letta's ``StopReasonType`` values."""


@dataclass(frozen=True)
class TurnLimits:
    """What bounds one turn."""

    max_steps: int
    max_invalid_tool_calls: int
    """Malformed tool calls the model may make in a turn before it is given up on."""


@dataclass(frozen=True)
class StepOutcome:
    """What one committed step did, as far as ending the turn goes."""

    step_number: int
    """1-based within the turn."""
    called_tools: bool
    """The model's response called tools (run, refused or held alike)."""
    executed: Sequence[ExecutedCall]
    """The results of the calls that were not held, in order."""
    held: int
    """Calls waiting for approval."""
    heartbeat_agent: bool
    """A memgpt-style agent: a tool call ends its turn unless it asks for a heartbeat."""
    invalid_calls: int
    """Malformed calls in the turn so far, this step's included."""

    @property
    def malformed(self) -> int:
        return sum(call.malformed for call in self.executed)


def decide(outcome: StepOutcome, rules: RuleVerdict, limits: TurnLimits) -> StopReason | None:
    """Why the turn stops after this step, or None if the model gets another step.

    A model that keeps calling tools wrongly past the limit is given up on (``error``);
    held calls wait for a person (``requires_approval``); otherwise the turn ends when
    neither the model nor the tool rules want another step (``end_turn``), or when it
    has used its steps (``max_steps``)."""
    if gave_up(outcome, limits):
        return "error"
    if outcome.held:
        return "requires_approval"
    if not goes_on(outcome, rules):
        return "end_turn"
    if outcome.step_number >= limits.max_steps:
        return "max_steps"
    return None


def gave_up(outcome: StepOutcome, limits: TurnLimits) -> bool:
    """The model had its errors back ``limit`` times and still calls tools wrongly."""
    return outcome.malformed > 0 and outcome.invalid_calls > limits.max_invalid_tool_calls


def goes_on(outcome: StepOutcome, rules: RuleVerdict) -> bool:
    """Whether the turn wants another step: a terminal tool ends it, a continue rule
    prolongs it, and a tool the rules require before ending keeps it open."""
    if rules.ends:
        return False
    if rules.continues:
        return True
    return model_goes_on(outcome) or bool(rules.missing)


def model_goes_on(outcome: StepOutcome) -> bool:
    """Whether the model itself asked for another step, tool rules aside."""
    if not outcome.called_tools:
        return False
    if not outcome.heartbeat_agent:
        return True  # letta_v1: the model ends its turn by answering without a tool call
    # memgpt style: a tool call ends the turn unless it asked for a heartbeat or failed
    # (a failure always gets the model another step to correct itself).
    return any(call.failed or call.heartbeat for call in outcome.executed)


def nudge(outcome: StepOutcome, rules: RuleVerdict) -> str | None:
    """The note the next step sends the model when only the rules keep the turn open
    (a tool they require before ending was not called)."""
    if rules.ends or rules.continues or model_goes_on(outcome) or not rules.missing:
        return None
    wanted = ", ".join(f"'{name}'" for name in rules.missing)
    return f"Tool rules: before ending your turn you must call {wanted}."


def gave_up_error(outcome: StepOutcome, limits: TurnLimits) -> str:
    """What a run given up on for malformed calls records as its error."""
    return (
        f"the model made {outcome.invalid_calls} malformed tool calls in this turn (unknown "
        "tool, arguments that are not JSON, or missing arguments); the limit is "
        f"{limits.max_invalid_tool_calls}"
    )


@dataclass(frozen=True)
class Ending:
    """What a run records when its turn ends."""

    stop_reason: StopReason
    error: str | None = None
    recorded: bool = False
    """Nothing is left to write: the step that ended the turn recorded the run's end in
    its own transaction, or there is no run of this turn to record."""


class TurnEnded(Exception):
    """The turn ends here, with ``ending`` to record; ``run_turn`` catches it."""

    def __init__(self, ending: Ending) -> None:
        super().__init__(ending.stop_reason)
        self.ending = ending


def ending_of(exc: BaseException, *, run_saved: bool) -> tuple[Ending, bool]:
    """What the run records when ``exc`` stops its turn, and whether ``exc`` goes on up
    to the caller after that (a model call that failed is the turn's answer, not an
    error of the request)."""
    if isinstance(exc, TurnEnded):
        return exc.ending, False
    if isinstance(exc, ContextOverflow):
        error = (
            f"{exc}; even after folding the window the prompt does not fit: the agent's "
            "context window may be set larger than the model's (context_window_limit)"
        )
        return Ending("context_window_overflow_in_system_prompt", error), False
    if isinstance(exc, ProviderError):
        return Ending("llm_api_error", str(exc)), False
    if isinstance(exc, asyncio.CancelledError):
        # The task running the turn was stopped (shutdown): the committed steps stand.
        return Ending("cancelled"), True
    if isinstance(exc, NotFound):
        # The agent is gone; a run not saved yet has nothing to record.
        return Ending("error", str(exc), recorded=not run_saved), True
    if isinstance(exc, EngramError):
        # Refused on purpose (a busy agent past the wait, an approval out of turn): the
        # run records the refusal as it was written for the user.
        return Ending("error", str(exc)), True
    return Ending("error", f"internal error ({type(exc).__name__}): {exc}"), True
