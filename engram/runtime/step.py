"""The agent loop: compile, call, execute, persist, decide — one committed step at a time.

Nothing of a step reaches the database until the step commits, so a failure in the
model call or a crash mid-step leaves the agent exactly as the previous step left it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from engram.errors import ContextOverflow, EngramError, NotFound, ProviderError
from engram.ids import new_id
from engram.jobs import JobNotStarted
from engram.llm.client import ChatRequest, ChatResult, DeltaSink
from engram.llm.tokens import counts_exactly
from engram.memory import policy
from engram.memory.embeddings import Embedder
from engram.memory.ledger import MemoryLedger
from engram.runtime import approvals
from engram.runtime.context import (
    HEARTBEAT_AGENTS,
    CompiledContext,
    message_tokens,
    window_size,
    with_recalled,
)
from engram.runtime.engine import Services
from engram.runtime.external_tools import run_external_calls
from engram.runtime.folding import fold_window
from engram.runtime.prompt import to_chat
from engram.runtime.recall_assist import RecalledSection, recall_section
from engram.runtime.runs import CLAIMED, RunRecord, claim_run, write_run
from engram.runtime.state import AgentState, compile_state, load_state
from engram.runtime.step_rows import (
    InputMessage,
    assistant_row,
    input_row,
    row_values,
    step_record,
    tool_row,
)
from engram.runtime.step_rules import offered_tools, refused_calls, rules_verdict
from engram.runtime.tool_calls import (
    CallOrigin,
    ExecutedCall,
    Prefetched,
    execute_calls,
    prefetch_vectors,
    run_custom_tools,
)
from engram.runtime.tool_rules import TurnRules
from engram.runtime.views import letta_messages
from engram.store import blocks
from engram.store import tables as t

log = logging.getLogger(__name__)

COUNT_ERROR_WARNING = 0.10
"""A prompt count further than this from the provider's is logged as a warning."""

MessageSink = Callable[[dict[str, Any]], Awaitable[None]]
StepSink = Callable[[str, str], Awaitable[None]]
"""Told ``(step_id, message_id)`` before a step's model call, so that streamed pieces can
carry the ids the step's committed messages will have."""


@dataclass
class TurnResult:
    run_id: str
    messages: list[dict[str, Any]]
    stop_reason: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    step_count: int = 0
    context_tokens: int = 0
    error: str | None = None

    def usage(self) -> dict[str, Any]:
        return {
            "message_type": "usage_statistics",
            "completion_tokens": self.completion_tokens,
            "prompt_tokens": self.prompt_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "step_count": self.step_count,
            "run_ids": None,
            "cached_input_tokens": 0,
            "cache_write_tokens": 0,
            "reasoning_tokens": 0,
            "context_tokens": self.context_tokens,
        }


@dataclass
class _Turn:
    """What the loop carries from step to step."""

    rt: Services
    agent_id: str
    run_id: str
    max_steps: int
    started_ns: int
    result: TurnResult
    on_message: MessageSink | None
    on_delta: DeltaSink | None
    on_step: StepSink | None = None
    # Whether this turn claimed its (made ahead) run: it owns the run from then on.
    claimed: bool = False
    steps_taken: int = 0
    finished: bool = False
    # A run made by runtime.runs.create_run exists already; else the first commit records it.
    run_saved: bool = True
    # The memory counts as of the last committed step; each step works on a copy.
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    # Malformed tool calls so far in this turn, as of the last committed step.
    invalid_calls: int = 0
    # The agent's tool rules as this turn has moved them (None until the first step).
    rules: TurnRules | None = None
    # A note the next step sends the model (a tool the rules require before ending).
    nudge: str | None = None
    # The user's words, for recall assist to search with before the first step.
    assist_query: str | None = None
    recalled: RecalledSection | None = None


async def run_turn(
    rt: Services,
    agent_id: str,
    inputs: list[InputMessage],
    *,
    run_id: str | None = None,
    max_steps: int = 50,
    on_message: MessageSink | None = None,
    on_delta: DeltaSink | None = None,
    on_step: StepSink | None = None,
    requeue_if_stopped: bool = False,
) -> TurnResult:
    """Process one request for an agent: steps until the model ends its turn.

    Without ``run_id`` the run is recorded with the first step's transaction, saving one
    transaction per request; with it (a run made by ``runtime.runs.create_run``, which
    others may watch or cancel) the run is marked running once this turn holds the agent.
    The run always ends recorded: completed, failed, or cancelled (by request, or because
    the task running the turn was cancelled).

    Streaming hooks: ``on_message`` gets each Letta message once its step commits,
    ``on_step`` the ids a step will commit under before its model call, and ``on_delta``
    the model's output pieces as they arrive.

    ``requeue_if_stopped`` (a queued run's job): stopped before the turn claimed its run,
    the run is left as it is and ``JobNotStarted`` is raised, so the job is queued again."""
    run_saved = run_id is not None
    run_id = run_id or new_id("run")
    result = TurnResult(run_id=run_id, messages=[], stop_reason="end_turn")
    turn = _Turn(
        rt,
        agent_id,
        run_id,
        max_steps,
        time.perf_counter_ns(),
        result,
        on_message,
        on_delta,
        on_step,
        run_saved=run_saved,
        assist_query="\n".join(item.text for item in inputs if item.role == "user") or None,
    )
    answer = next((i.approval for i in inputs if i.role == approvals.APPROVAL_ROLE), None)
    pending = [input_row(agent_id, run_id, i) for i in inputs if i.role != approvals.APPROVAL_ROLE]
    try:
        async with rt.agent_lock(agent_id):
            if run_saved:
                status = await rt.db.write(lambda session: claim_run(session, turn.run_id))
                turn.claimed = True
                if status not in (CLAIMED, "cancelled"):
                    # Another worker ran (or is running) this turn: nothing here to do.
                    turn.finished = True
                    result.stop_reason = "error"
                    result.error = f"run '{run_id}' is {status or 'gone'} already"
                    return result
            await _settle_approvals(turn, inputs, answer)
            while not turn.finished:
                if not await _one_step(turn, pending):
                    result.stop_reason = "cancelled"
                    break
                pending = []
                if turn.nudge is not None:
                    nudge = InputMessage(role="system", text=turn.nudge)
                    pending, turn.nudge = [input_row(agent_id, run_id, nudge)], None
    except ContextOverflow as exc:
        result.stop_reason = "context_window_overflow_in_system_prompt"
        result.error = (
            f"{exc}; even after folding the window the prompt does not fit: the agent's "
            "context window may be set larger than the model's (context_window_limit)"
        )
    except ProviderError as exc:
        result.stop_reason = "llm_api_error"
        result.error = str(exc)
    except NotFound as exc:
        if not turn.run_saved:
            turn.finished = True  # the agent does not exist: there is no run to record
        result.stop_reason = "error"
        result.error = str(exc)
        raise
    except asyncio.CancelledError:
        if requeue_if_stopped and run_saved and not turn.claimed:
            turn.finished = True  # the run stays queued, untouched
            raise JobNotStarted(f"run '{run_id}' had not started") from None
        # The task running this turn was stopped (shutdown): the committed steps stand.
        result.stop_reason = "cancelled"
        raise
    except EngramError as exc:
        # Refused on purpose (a busy agent past the wait, an approval out of turn): the
        # run records the refusal as it was written for the user.
        result.stop_reason = "error"
        result.error = str(exc)
        raise
    except Exception as exc:
        result.stop_reason = "error"
        result.error = f"internal error ({type(exc).__name__}): {exc}"
        raise
    finally:
        if not turn.finished:
            await rt.db.write(lambda session: _write_run(session, turn, None, closing=True))
    return result


async def _settle_approvals(
    turn: _Turn, inputs: list[InputMessage], answer: dict[str, Any] | None
) -> None:
    """Before the first step: refuse a request the approval state does not allow, or
    record the answer to the pending approval and its calls' results (runtime/approvals.py)."""
    rt, agent_id = turn.rt, turn.agent_id
    if answer is None:
        await rt.db.read(lambda session: approvals.check_input(session, agent_id, inputs))
        return
    answered = await approvals.answer_pending(rt, agent_id, turn.run_id, answer)
    turn.rules = answered.rules
    await _emit(turn, answered.rows)


async def _emit(turn: _Turn, rows: list[t.Message]) -> None:
    """Committed rows as Letta messages: into the turn's result and to the stream."""
    for row in rows:
        for view in letta_messages(row):
            turn.result.messages.append(view)
            if turn.on_message is not None:
                await turn.on_message(view)


async def _read_state(rt: Services, agent_id: str, run_id: str) -> tuple[AgentState, str | None]:
    """The agent as the next step sees it, and its run's status (it may have been cancelled)."""
    return await rt.db.read(
        lambda session: load_state(session, agent_id, rt.windows, run_id=run_id)
    )


async def _one_step(turn: _Turn, pending: list[t.Message]) -> bool:
    """One LLM call and its tools, committed together; False if the run was cancelled."""
    rt, agent_id, run_id, result = turn.rt, turn.agent_id, turn.run_id, turn.result
    step_started = time.perf_counter()
    state, run_status = await _read_state(rt, agent_id, run_id)
    if run_status == "cancelled":
        return False
    agent = state.agent
    model = agent.llm_config["model"]
    if turn.rules is None:
        turn.rules = TurnRules(list(agent.tool_rules or []))
    if turn.assist_query is not None:
        await _recall_for_turn(turn, agent)
    for row in pending:
        row.token_count = message_tokens(model, row)
    incoming = sum(row.token_count for row in pending)
    context = _compile(turn, state)
    if context.total_tokens + incoming > policy.compaction(
        agent.compaction_settings, rt.settings
    ).trigger * window_size(agent):
        await fold_window(rt, agent_id, extra_tokens=incoming + context.recalled_tokens)
        state, _ = await _read_state(rt, agent_id, run_id)
        context = _compile(turn, state)
    state, chat, counted, step_id, message_id = await _call_model(
        turn, state, context, pending, incoming
    )
    _log_count_error(agent_id, model, counted, chat.prompt_tokens)
    refused = refused_calls(turn.rules, state.tools, chat.tool_calls)
    unrefused = [call for call in chat.tool_calls if call.id not in refused]
    held = approvals.calls_to_hold(agent.tool_rules or [], state.tools, unrefused)
    calls = [call for call in unrefused if call.id not in held]
    embedder = rt.embeddings.embedder_for(agent.embedding_config)
    vectors = await prefetch_vectors(embedder, calls)
    origin = CallOrigin(run_id, step_id, message_id)
    custom = await run_custom_tools(rt, agent, state.tools, calls, origin)
    custom |= await run_external_calls(rt, state.tools, calls)
    custom |= refused
    step = _StepOutput(
        step_id, message_id, chat, counted, step_started, custom_results=custom, held=held
    )
    closed = await rt.db.write(
        lambda session: _commit_step(session, turn, state, pending, step, embedder, vectors)
    )
    # Only now, with the transaction committed, does the turn's bookkeeping move on.
    rt.recall_indexer.notify(agent_id)
    turn.ledger = step.ledger
    turn.invalid_calls = step.invalid_calls
    turn.rules, turn.nudge = step.rules, step.nudge
    turn.run_saved = True
    turn.steps_taken += 1
    turn.finished = closed
    result.prompt_tokens += chat.prompt_tokens
    result.completion_tokens += chat.completion_tokens
    result.step_count += 1
    result.context_tokens = counted
    await _emit(turn, step.rows)
    return True


async def _call_model(
    turn: _Turn,
    state: AgentState,
    context: CompiledContext,
    pending: list[t.Message],
    incoming: int,
) -> tuple[AgentState, ChatResult, int, str, str]:
    """The step's model call. A provider that refuses the prompt as too long gets one
    forced fold and one more try: the count that let the prompt through was off (an
    estimate, or a window configured larger than the model's)."""
    rt, agent = turn.rt, state.agent
    for attempt in (1, 2):
        counted = context.total_tokens + incoming
        # Made before the call: streamed pieces of this step already carry the final ids.
        step_id, message_id = new_id("step"), new_id("message")
        if turn.on_step is not None:
            await turn.on_step(step_id, message_id)
        request = ChatRequest(
            model=agent.llm_config["model"],
            messages=context.chat_messages() + [c for m in pending if (c := to_chat(m))],
            tools=offered_tools(turn.rules, context.tools),
            temperature=agent.llm_config.get("temperature"),
            max_tokens=agent.llm_config.get("max_tokens"),
            reasoning_budget=_reasoning_budget(agent.llm_config),
        )
        try:
            chat = await rt.providers.client_for(agent.llm_config).chat(request, turn.on_delta)
        except ContextOverflow as exc:
            if attempt == 2:
                raise
            log.warning("agent %s: %s; folding the window and trying once more", agent.id, exc)
            extra = incoming + context.recalled_tokens
            if await fold_window(rt, turn.agent_id, extra_tokens=extra, force=True) is None:
                raise
            state, _ = await _read_state(rt, turn.agent_id, turn.run_id)
            agent = state.agent
            context = _compile(turn, state)
            continue
        return state, chat, counted, step_id, message_id
    raise AssertionError("unreachable: the second attempt returns or raises")


def _reasoning_budget(llm_config: dict[str, Any]) -> int | None:
    """The thinking budget an agent asked for (Letta's ``enable_reasoner`` and
    ``max_reasoning_tokens``); providers without budgets ignore it."""
    if not llm_config.get("enable_reasoner") or not llm_config.get("max_reasoning_tokens"):
        return None
    return int(llm_config["max_reasoning_tokens"])


def _log_count_error(agent_id: str, model: str, counted: int, reported: int) -> None:
    """Our prompt count against the provider's, per step: the paging decisions rest on it.

    An exact count (tiktoken, OpenAI models) that is off is worth a warning every time. For
    other models the count is an estimate and is expected to be off by a similar amount on
    every step: it is said once per model, then at debug level."""
    if reported <= 0:
        return
    error = (counted - reported) / reported
    noteworthy = abs(error) > COUNT_ERROR_WARNING
    estimated = not counts_exactly(model)
    level = logging.DEBUG
    if noteworthy and not (estimated and model in _ESTIMATE_WARNED):
        level = logging.WARNING
        if estimated:
            _ESTIMATE_WARNED.add(model)
    log.log(
        level,
        "agent %s: counted %d prompt tokens, provider reported %d (%+.1f%%)%s",
        agent_id,
        counted,
        reported,
        error * 100,
        ESTIMATE_NOTE.format(model=model) if estimated and level == logging.WARNING else "",
    )


ESTIMATE_NOTE = (
    "; counts for {model} are an estimate (no shipped tokenizer), so this is said once: "
    "later differences for it are logged at debug level"
)
_ESTIMATE_WARNED: set[str] = set()
"""Models whose estimated counts have been warned about in this process."""


async def _recall_for_turn(turn: _Turn, agent: t.Agent) -> None:
    """Recall assist, once per turn before its first step (a no-op unless enabled)."""
    query, turn.assist_query = turn.assist_query or "", None
    turn.recalled = await recall_section(turn.rt, agent, query)
    if turn.recalled is not None:
        turn.ledger.record_assist(turn.recalled.remembered())


def _compile(turn: _Turn, state: AgentState) -> CompiledContext:
    recalled = turn.recalled.text if turn.recalled is not None else None
    return with_recalled(compile_state(state), state.agent.llm_config["model"], recalled)


@dataclass
class _StepOutput:
    step_id: str
    message_id: str
    chat: ChatResult
    counted_tokens: int
    started: float
    rows: list[t.Message] = field(default_factory=list)
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    invalid_calls: int = 0
    # Results of calls run before the transaction (custom tools in the sandbox), by call id.
    custom_results: dict[str, ExecutedCall] = field(default_factory=dict)
    rules: TurnRules | None = None
    nudge: str | None = None
    # Calls waiting for approval: stored with the model's message, not run.
    held: set[str] = field(default_factory=set)


def _commit_step(
    session: Session,
    turn: _Turn,
    state: AgentState,
    pending: list[t.Message],
    step: _StepOutput,
    embedder: Embedder,
    vectors: Prefetched,
) -> bool:
    """Everything one step changes, in one transaction: tools' effects, messages, the step.
    Returns whether this step also closed the run."""
    agent, chat, run_id = state.agent, step.chat, turn.run_id
    assistant = assistant_row(agent.id, run_id, step.step_id, step.message_id, chat)
    approvals.mark_held(assistant, step.held)
    to_run = [call for call in chat.tool_calls if call.id not in step.held]
    # The turn adopts this copy only if the transaction commits.
    step.ledger = turn.ledger.copy()
    step.ledger.observe_output([chat.content, *(call.arguments for call in chat.tool_calls)])
    executed: list[ExecutedCall] = []
    if to_run:
        # Blocks are re-read inside the transaction: the edit applies to the current value.
        live = blocks.for_agent(session, agent.id)
        executed = execute_calls(
            session,
            turn.rt,
            agent,
            live,
            state.tools,
            embedder,
            vectors,
            to_run,
            run_id=run_id,
            step_id=step.step_id,
            message_id=step.message_id,
            ledger=step.ledger,
            step_number=turn.steps_taken + 1,
            custom_results=step.custom_results,
        )
    tool_rows = [tool_row(agent.id, run_id, step.step_id, call) for call in executed]
    new_rows = [*pending, assistant, *tool_rows]
    model = agent.llm_config["model"]
    for row in new_rows:
        row.step_id = step.step_id
        row.token_count = row.token_count or message_tokens(model, row)
    session.execute(insert(t.Message), [row_values(row) for row in new_rows])
    more = _keep_going(agent.agent_type, chat, executed)
    more = _apply_rules(turn, step, executed, more)
    step.rows = [assistant, *tool_rows]
    malformed = sum(call.malformed for call in executed)
    step.invalid_calls = turn.invalid_calls + malformed
    limit = turn.rt.settings.max_invalid_tool_calls
    given_up = malformed > 0 and step.invalid_calls > limit
    waiting = bool(step.held) and not given_up
    closing = given_up or waiting or not more or turn.steps_taken + 1 >= turn.max_steps
    if given_up:
        # The model had its errors back ``limit`` times and still calls tools wrongly.
        turn.result.stop_reason = "error"
        turn.result.error = (
            f"the model made {step.invalid_calls} malformed tool calls in this turn (unknown "
            f"tool, arguments that are not JSON, or missing arguments); the limit is {limit}"
        )
    elif waiting:
        turn.result.stop_reason = "requires_approval"
    elif closing:
        # The turn's last step also closes its run, in the same transaction.
        turn.result.stop_reason = "max_steps" if more else "end_turn"
    _write_run(session, turn, chat, closing=closing, ledger=step.ledger)
    seconds = time.perf_counter() - step.started
    # A step that did not end the turn has no stop reason of its own.
    stop_reason = turn.result.stop_reason if closing else None
    step_row = step_record(
        step.step_id, step.chat, run_id, agent, step.counted_tokens, seconds, stop_reason
    )
    session.execute(insert(t.Step), [row_values(step_row)])
    return closing


def _apply_rules(turn: _Turn, step: _StepOutput, executed: list[ExecutedCall], more: bool) -> bool:
    """Whether the turn goes on once the tool rules have their say (see ``rules_verdict``)."""
    more, step.rules, step.nudge = rules_verdict(turn.rules or TurnRules([]), executed, more)
    return more


def _keep_going(agent_type: str, chat: ChatResult, executed: list[ExecutedCall]) -> bool:
    if not chat.tool_calls:
        return False
    if agent_type not in HEARTBEAT_AGENTS:
        # letta_v1: the model ends its turn by answering without calling a tool.
        return True
    # memgpt style: a tool call ends the turn unless it asked for a heartbeat or failed
    # (a failure always gets the model another step to correct itself).
    return any(call.failed or call.heartbeat for call in executed)


def _write_run(
    session: Session,
    turn: _Turn,
    chat: ChatResult | None,
    *,
    closing: bool,
    ledger: MemoryLedger | None = None,
) -> None:
    """Record the run's progress after a step (``chat``, with the step's ``ledger``) and,
    when ``closing``, its end."""
    record = RunRecord(
        run_id=turn.run_id,
        agent_id=turn.agent_id,
        chat=chat,
        closing=closing,
        stop_reason=turn.result.stop_reason,
        error=turn.result.error,
        duration_ns=time.perf_counter_ns() - turn.started_ns,
        memory_metrics=(ledger or turn.ledger).metrics.as_dict(),
    )
    closed_as = write_run(session, record, exists=turn.run_saved)
    if closed_as is not None:
        turn.result.stop_reason = closed_as  # "cancelled" if a cancel came meanwhile
