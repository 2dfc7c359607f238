"""What one step writes, in its one transaction: the new messages, the step's row, the
run's progress and, when ``stop.decide`` says the turn stops, the run's end.

These functions run inside ``deps.db.write`` (``commit_step`` as the tool pipeline's
``commit``) and change nothing of the ``Turn``: the caller adopts what they return once
the transaction has committed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.orm import Session

from engram.llm.client import ChatResult
from engram.llm.config import LLMConfig
from engram.memory.ledger import MemoryLedger
from engram.runtime import approvals
from engram.runtime.context import HEARTBEAT_AGENTS, message_tokens
from engram.runtime.runs import RunRecord, write_run
from engram.runtime.step_clock import StepClock
from engram.runtime.step_model import ModelStep
from engram.runtime.step_rows import assistant_row, row_values, step_record, tool_row
from engram.runtime.step_rules import judge
from engram.runtime.stop import (
    Ending,
    StepOutcome,
    StopReason,
    decide,
    gave_up_error,
    nudge,
)
from engram.runtime.tool_batch import BatchResult
from engram.runtime.tool_rules import TurnRules
from engram.runtime.turn import Turn
from engram.store import tables as t
from engram.store.conversations import touch_conversation


@dataclass
class Committed:
    """What a committed step leaves for the turn to adopt."""

    rows: list[t.Message]
    """The model's message and the tool results, as stored."""
    ledger: MemoryLedger
    invalid_calls: int
    rules: TurnRules
    nudge: str | None
    ending: Ending | None
    """Set when this step also ended the turn (and recorded the run's end)."""


def commit_step(
    session: Session,
    turn: Turn,
    call: ModelStep,
    pending: list[t.Message],
    held: set[str],
    clock: StepClock,
    ran: BatchResult,
) -> Committed:
    """Write one step: ``pending`` (the step's new input), the model's message with its
    ``held`` calls marked, the results in ``ran``, the run's progress and the step's row."""
    clock.mark("tools")
    clock.add_reranks(ran.reranks)
    agent, chat = call.state.agent, call.chat
    assistant = assistant_row(agent.id, turn.run_id, call.step_id, call.message_id, chat)
    approvals.mark_held(assistant, held, client=turn.options.client_tool_names)
    results = [tool_row(agent.id, turn.run_id, call.step_id, done) for done in ran.executed]
    model = LLMConfig.from_json(agent.llm_config).model
    new_rows = [*pending, assistant, *results]
    for row in new_rows:
        row.step_id = call.step_id
        row.token_count = row.token_count or message_tokens(model, row)
        row.conversation_id = turn.options.conversation_id
    session.execute(insert(t.Message), [row_values(row) for row in new_rows])
    if turn.options.conversation_id is not None:
        touch_conversation(session, turn.options.conversation_id)
    verdict = judge(turn.rules or TurnRules([]), ran.executed)
    outcome = StepOutcome(
        step_number=turn.steps_taken + 1,
        called_tools=bool(chat.tool_calls),
        executed=ran.executed,
        held=len(held),
        heartbeat_agent=agent.agent_type in HEARTBEAT_AGENTS,
        invalid_calls=turn.invalid_calls + sum(done.malformed for done in ran.executed),
    )
    reason = decide(outcome, verdict, turn.limits)
    error = gave_up_error(outcome, turn.limits) if reason == "error" else None
    # The turn's last step also closes its run, in the same transaction.
    record = _record(turn, chat, reason, error, ran.ledger)
    closed_as = write_run(session, record, exists=turn.run_saved)
    ending = None if reason is None else Ending(_closed(reason, closed_as), error, recorded=True)
    clock.mark("database")
    # A step that did not end the turn has no stop reason of its own.
    stop = ending.stop_reason if ending is not None else None
    step_row = step_record(
        call.step_id, chat, turn.run_id, agent, call.counted, clock.timings(chat.ttft_ns), stop
    )
    step_row.conversation_id = turn.options.conversation_id
    if turn.options.llm_config is not None:  # the request's override_model served the step
        step_row.model_handle = turn.options.llm_config.get("handle")
        step_row.provider_name = turn.options.llm_config.get("provider_name")
    session.execute(insert(t.Step), [row_values(step_row)])
    return Committed(
        [assistant, *results],
        ran.ledger,
        outcome.invalid_calls,
        verdict.rules,
        nudge(outcome, verdict),
        ending,
    )


def close_run(session: Session, turn: Turn) -> None:
    """Record the end of a run whose turn stopped between steps (cancelled, a model call
    that failed, an error), as the turn's result says."""
    result = turn.result
    record = _record(turn, None, result.stop_reason, result.error, turn.ledger)
    closed_as = write_run(session, record, exists=turn.run_saved)
    result.stop_reason = _closed(result.stop_reason, closed_as)


def _record(
    turn: Turn,
    chat: ChatResult | None,
    reason: StopReason | None,
    error: str | None,
    ledger: MemoryLedger,
) -> RunRecord:
    """The run's record after a step (``chat``) and, with a ``reason``, its end."""
    return RunRecord(
        run_id=turn.run_id,
        agent_id=turn.agent_id,
        chat=chat,
        closing=reason is not None,
        stop_reason=reason or "end_turn",
        error=error,
        duration_ns=time.perf_counter_ns() - turn.started_ns,
        memory_metrics=ledger.metrics.as_dict(),
        conversation_id=turn.options.conversation_id,
    )


def _closed(reason: StopReason, closed_as: str | None) -> StopReason:
    """The stop reason a run closed with: "cancelled" if a cancel came meanwhile."""
    return "cancelled" if closed_as == "cancelled" else reason
