"""The agent loop: compile, call, execute, persist, decide — one committed step at a time.

Nothing of a step reaches the database until the step commits, so a failure in the
model call or a crash mid-step leaves the agent exactly as the previous step left it.

The pieces: ``step_model.py`` fits the prompt and calls the model, ``tool_batch.py`` runs
the calls (the same pipeline answers an approval), ``step_commit.py`` writes the step and
asks ``stop.decide`` whether the turn goes on. Every way a turn ends arrives here as an
exception (``stop.TurnEnded``, or an error) and is recorded in one place, ``run_turn``.
"""

from __future__ import annotations

import asyncio
from functools import partial

from engram.ids import new_id
from engram.jobs import JobNotStarted
from engram.llm.client import DeltaSink
from engram.runtime import approvals
from engram.runtime.agent_calls import settle_agent_calls
from engram.runtime.agent_gate import BusyPolicy
from engram.runtime.approvals import APPROVAL_ROLE
from engram.runtime.recall_assist import recall_section
from engram.runtime.runs import CLAIMED, claim_run
from engram.runtime.sleeptime import after_turn
from engram.runtime.step_clock import StepClock
from engram.runtime.step_commit import Committed, close_run, commit_step
from engram.runtime.step_model import ModelStep, call_model, fit_prompt, read_state
from engram.runtime.step_rows import InputMessage, input_row
from engram.runtime.step_rules import refused_calls
from engram.runtime.stop import Ending, StopReason, TurnEnded, TurnLimits, ending_of
from engram.runtime.tool_batch import ToolBatch, run_batch
from engram.runtime.tool_calls import CallOrigin
from engram.runtime.tool_rules import TurnRules
from engram.runtime.turn import Hooks, MessageSink, StepSink, Turn, TurnDeps, TurnResult
from engram.runtime.turn_options import TurnOptions
from engram.store import tables as t

__all__ = [
    "InputMessage",
    "MessageSink",
    "StepSink",
    "StopReason",
    "TurnDeps",
    "TurnResult",
    "run_turn",
]


async def run_turn(
    deps: TurnDeps,
    agent_id: str,
    inputs: list[InputMessage],
    *,
    if_busy: BusyPolicy,
    run_id: str | None = None,
    max_steps: int = 50,
    on_message: MessageSink | None = None,
    on_delta: DeltaSink | None = None,
    on_step: StepSink | None = None,
    on_event: MessageSink | None = None,
    requeue_if_stopped: bool = False,
    call_depth: int = 0,
    options: TurnOptions | None = None,
) -> TurnResult:
    """Process one request for an agent: steps until the model ends its turn.

    ``if_busy``: what to do when another turn of the agent runs (``AgentGate.hold``).
    Without ``run_id`` the run is recorded with the first step's transaction; with it (a
    run made by ``runtime.runs.create_run``) the run is claimed once this turn holds the
    agent. The run always ends recorded: completed, failed, or cancelled. ``turn.Hooks``
    says what the streaming hooks get. ``requeue_if_stopped`` (a queued run's job): stopped
    before the turn claimed its run, the run is left as it is and ``JobNotStarted`` is
    raised, so the job is queued again. ``call_depth``: how many agent-to-agent calls deep
    this turn is (0 for a client's turn; runtime/agent_calls.py). ``options``: what the
    request asked of the turn beyond its messages (runtime/turn_options.py)."""
    turn = _new_turn(
        deps, agent_id, inputs, run_id, max_steps, Hooks(on_message, on_delta, on_step, on_event)
    )
    turn.call_depth = call_depth
    turn.options = options or TurnOptions()
    pending = [input_row(agent_id, turn.run_id, i) for i in inputs if i.role != APPROVAL_ROLE]
    try:
        thread = turn.options.conversation_id
        async with deps.gate.hold(agent_id, policy=if_busy, conversation_id=thread):
            await _claim(turn)
            await _settle_approvals(turn, inputs)
            while True:
                await _one_step(turn, pending)
                pending = turn.next_inputs()
    except BaseException as exc:
        ending, reraise = ending_of(exc, run_saved=turn.run_saved)
        turn.end(ending)
        stopped = isinstance(exc, asyncio.CancelledError) and requeue_if_stopped
        if stopped and run_id is not None and not turn.claimed:
            turn.recorded = True  # the run stays queued, untouched
            raise JobNotStarted(f"run '{turn.run_id}' had not started") from None
        if reraise:
            raise
    finally:
        if not turn.recorded:
            await deps.db.write(lambda session: close_run(session, turn))
    # Committed: count it towards its thread's sleep-time run, off this path.
    after_turn(deps, agent_id, turn.result.stop_reason, turn.options.conversation_id)
    return turn.result


def _new_turn(
    deps: TurnDeps,
    agent_id: str,
    inputs: list[InputMessage],
    run_id: str | None,
    max_steps: int,
    hooks: Hooks,
) -> Turn:
    made = run_id or new_id("run")
    return Turn(
        deps,
        agent_id,
        made,
        TurnLimits(max_steps, deps.settings.max_invalid_tool_calls),
        TurnResult(run_id=made, messages=[], stop_reason="end_turn"),
        hooks,
        run_saved=run_id is not None,
        assist_query="\n".join(item.text for item in inputs if item.role == "user") or None,
    )


async def _claim(turn: Turn) -> None:
    """Mark a run made ahead as running, now that this turn holds the agent. Another
    worker ran (or is running) it already: nothing here to do, or to record."""
    if not turn.run_saved:
        return
    run_id = turn.run_id
    status = await turn.deps.db.write(lambda session: claim_run(session, run_id))
    turn.claimed = True
    if status not in (CLAIMED, "cancelled"):
        error = f"run '{run_id}' is {status or 'gone'} already"
        raise TurnEnded(Ending("error", error, recorded=True))


async def _settle_approvals(turn: Turn, inputs: list[InputMessage]) -> None:
    """Before the first step: refuse a request the approval state does not allow, or
    record the answer to the pending approval and its calls' results (runtime/approvals.py)."""
    deps, agent_id, run_id = turn.deps, turn.agent_id, turn.run_id
    answer = next((i.approval for i in inputs if i.role == APPROVAL_ROLE), None)
    thread = turn.options.conversation_id
    if answer is None:
        await deps.db.read(lambda session: approvals.check_input(session, agent_id, inputs, thread))
        return
    answered = await approvals.answer_pending(
        deps,
        agent_id,
        run_id,
        answer,
        turn.ledger,
        partial(settle_agent_calls, deps, run=run_turn, depth=turn.call_depth),
        conversation_id=thread,
    )
    turn.rules, turn.ledger = answered.rules, answered.ledger
    await turn.emit(answered.rows)


async def _one_step(turn: Turn, pending: list[t.Message]) -> None:
    """One LLM call and its tools, committed together; raises ``TurnEnded`` when the turn
    ends (with the step, or before it when the run was cancelled)."""
    clock = StepClock()
    state = await read_state(turn)
    if turn.rules is None:
        turn.rules = TurnRules(list(state.agent.tool_rules or []))
    if turn.assist_query is not None:
        await _recall_for_turn(turn, state.agent)
    prompt = await fit_prompt(turn, state, pending)
    clock.mark("context")
    call = await call_model(turn, prompt)
    clock.mark("llm")
    batch, held = _batch_of(turn, call)
    # Calls to other agents run their turns now, before this step's transaction opens.
    batch = await settle_agent_calls(turn.deps, batch, run_turn, turn.call_depth)
    committed = await run_batch(
        turn.deps,
        batch,
        lambda session, ran: commit_step(session, turn, call, pending, held, clock, ran),
    )
    # Only now, with the transaction committed, does the turn's bookkeeping move on.
    turn.deps.recall_indexer.notify(turn.agent_id)
    _adopt(turn, call, committed)
    await turn.emit(committed.rows)
    if committed.ending is not None:
        raise TurnEnded(committed.ending)


def _batch_of(turn: Turn, call: ModelStep) -> tuple[ToolBatch, set[str]]:
    """The step's calls as a tool batch: calls breaking a tool rule are answered with an
    error, calls needing approval are held (stored unrun), the rest run. Returns the
    batch and the held calls' ids."""
    state, chat = call.state, call.chat
    client = turn.options.client_tool_names
    refused = refused_calls(turn.rules, state.tools, chat.tool_calls, also=client)
    unrefused = [c for c in chat.tool_calls if c.id not in refused]
    held = approvals.calls_to_hold(state.agent.tool_rules or [], state.tools, unrefused)
    # A client tool's call waits for the client's result, as a call held for approval.
    held |= {c.id for c in unrefused if c.name in client}
    batch = ToolBatch(
        agent=state.agent,
        tools=state.tools,
        calls=[c for c in chat.tool_calls if c.id not in held],
        origin=CallOrigin(turn.run_id, call.step_id, call.message_id),
        ledger=turn.ledger,
        step_number=turn.steps_taken + 1,
        settled=refused,
        output=[chat.content, *(c.arguments for c in chat.tool_calls)],
        conversation_id=turn.options.conversation_id,
    )
    return batch, held


def _adopt(turn: Turn, call: ModelStep, committed: Committed) -> None:
    """The turn takes on what a committed step changed."""
    turn.ledger = committed.ledger
    turn.invalid_calls = committed.invalid_calls
    turn.rules, turn.nudge = committed.rules, committed.nudge
    turn.run_saved = True
    turn.steps_taken += 1
    result = turn.result
    result.prompt_tokens += call.chat.prompt_tokens
    result.completion_tokens += call.chat.completion_tokens
    result.step_count += 1
    result.context_tokens = call.counted
    result.logprobs = call.chat.logprobs


async def _recall_for_turn(turn: Turn, agent: t.Agent) -> None:
    """Recall assist, once per turn before its first step (a no-op unless enabled)."""
    query, turn.assist_query = turn.assist_query or "", None
    turn.recalled = await recall_section(turn.deps, agent, query)
    if turn.recalled is not None:
        turn.ledger.record_assist(turn.recalled.remembered())
