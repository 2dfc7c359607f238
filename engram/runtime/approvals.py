"""Tool approvals: calls that run only once a person has said yes.

A call needs approval when a ``requires_approval`` tool rule names its tool, or the tool
has ``default_requires_approval`` set. The step that makes such a call commits the model's
message without running it (the call is marked ``requires_approval`` in the stored
``tool_calls``) and the run stops with stop reason ``requires_approval``.

What is pending is derived, not stored apart: the marked calls of the agent's latest
assistant message that have no tool result yet. The next request answers with an approval
message; approved calls then run, denied ones get an error result carrying the reason, a
result the client ran itself is recorded as given, and the loop goes on with the model.

The answer itself is kept as a message of role ``approval`` (Letta's approval response),
written in the same transaction as the results, between the request and them. The model
never sees it: what it learns is in the results, which follow its calls as providers need.

A new user message while an approval is pending is refused (409) rather than taken as an
implicit denial: the model's message holds calls without results, which no provider
accepts in a prompt, and silently denying a call the user never saw would be a surprise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engram.errors import Conflict, InvalidInput
from engram.ids import new_id
from engram.llm.client import ToolCall
from engram.llm.config import LLMConfig
from engram.memory.ledger import MemoryLedger
from engram.runtime.context import message_tokens
from engram.runtime.state import load_state
from engram.runtime.step_rows import InputMessage, row_values, tool_row
from engram.runtime.tool_batch import BatchDeps, BatchResult, ToolBatch, run_batch
from engram.runtime.tool_calls import CallOrigin, ExecutedCall
from engram.runtime.tool_rules import TurnRules
from engram.runtime.turn_options import CLIENT_TOOL_MARK
from engram.runtime.views import HELD, letta_messages
from engram.store import agents
from engram.store import tables as t
from engram.store.conversations import in_thread

if TYPE_CHECKING:
    from engram.runtime.window import WindowCache

APPROVAL_ROLE: Final = "approval"
"""The role of an ``InputMessage`` that carries an approval instead of text."""


class ApprovalDeps(BatchDeps, Protocol):
    """What answering an approval uses: the agent's cached window, and the tool pipeline."""

    @property
    def windows(self) -> WindowCache: ...


@dataclass
class PendingApproval:
    """The assistant message whose held calls wait for an answer, and those calls."""

    message: t.Message
    calls: list[ToolCall]


@dataclass
class Decision:
    approve: bool
    reason: str | None = None
    # A result the client produced itself (Letta's ToolReturn among ``approvals``).
    tool_return: str | None = None
    failed: bool = False
    stdout: list[str] | None = None
    stderr: list[str] | None = None

    def entry(self, call_id: str) -> dict[str, Any]:
        """This decision as one item of Letta's ``approvals`` list."""
        if self.tool_return is None:
            return {
                "type": "approval",
                "tool_call_id": call_id,
                "approve": self.approve,
                "reason": self.reason,
            }
        return {
            "type": "tool",
            "tool_call_id": call_id,
            "tool_return": self.tool_return,
            "status": "error" if self.failed else "success",
            "stdout": self.stdout,
            "stderr": self.stderr,
        }


@dataclass
class Answered:
    """What settling an approval wrote, in order (the stored answer, then each call's
    result), the turn's tool rules moved on by the calls that ran, and the run's memory
    ledger with those calls recorded."""

    rows: list[t.Message]
    rules: TurnRules
    ledger: MemoryLedger


def calls_to_hold(
    rules: Sequence[dict[str, Any]], tools: Iterable[t.Tool], calls: Iterable[ToolCall]
) -> set[str]:
    """The ids of the calls that must wait for approval (only calls of attached tools)."""
    attached = list(tools)
    named = {rule["tool_name"] for rule in rules if rule.get("type") == "requires_approval"}
    named |= {tool.name for tool in attached if tool.default_requires_approval}
    names = {tool.name for tool in attached} & named
    return {call.id for call in calls if call.name in names}


def mark_held(message: t.Message, held: set[str], client: Collection[str] = ()) -> None:
    """Mark the held calls in a new assistant row, before it is inserted; those of the
    ``client`` tools (runtime/turn_options.py) also as calls only the client can answer."""
    if not held or not message.tool_calls:
        return
    message.tool_calls = [
        _held(call, client) if call["id"] in held else call for call in message.tool_calls
    ]


def _held(call: dict[str, Any], client: Collection[str]) -> dict[str, Any]:
    marks: dict[str, Any] = {HELD: True}
    if call["name"] in client:
        marks[CLIENT_TOOL_MARK] = True
    return {**call, **marks}


def _client_calls(found: PendingApproval) -> set[str]:
    """The waiting calls of client tools: the server cannot run them."""
    return {call["id"] for call in found.message.tool_calls or [] if call.get(CLIENT_TOOL_MARK)}


def _refuse_running_client_calls(
    found: PendingApproval, decisions: dict[str, Decision], answer: dict[str, Any]
) -> None:
    """An approval cannot let a client tool's call run here: only its result answers it."""
    client = _client_calls(found)
    field = answer.get("field") or "messages.approvals"
    for call in found.calls:
        decision = decisions[call.id]
        if call.id not in client or decision.tool_return is not None or not decision.approve:
            continue
        where = "messages.approve"
        if answer.get("approvals") is not None:
            ids = [item["tool_call_id"] for item in answer["approvals"]]
            where = f"{field}[{ids.index(call.id)}]"
        raise InvalidInput(
            where,
            f"'{call.name}' ({call.id}) is a client-side tool the server cannot run: answer "
            "its call with a tool return carrying its result (or deny it)",
        )


def pending(
    session: Session, agent_id: str, conversation_id: str | None = None
) -> PendingApproval | None:
    """The approval the agent waits for, if any. Only the latest assistant message can
    hold one: a run stops right after the step that made the held calls. A request no
    longer in the context window (the messages were reset) waits no more: its results
    would reach the model without the calls they answer. With ``conversation_id``, the
    approval that conversation waits for."""
    window_start = select(t.Agent.window_start_seq).where(t.Agent.id == agent_id)
    if conversation_id is not None:
        window_start = select(t.Conversation.window_start_seq).where(
            t.Conversation.id == conversation_id
        )
    latest = session.scalars(
        select(t.Message)
        .where(
            t.Message.agent_id == agent_id,
            in_thread(t.Message.conversation_id, conversation_id),
            t.Message.role == "assistant",
            t.Message.seq > window_start.scalar_subquery(),
        )
        .order_by(t.Message.seq.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None
    held = [call for call in latest.tool_calls or [] if call.get(HELD)]
    if not held:
        return None
    answered = set(
        session.scalars(
            select(t.Message.tool_call_id).where(
                t.Message.agent_id == agent_id,
                t.Message.role == "tool",
                t.Message.seq > latest.seq,
                t.Message.tool_call_id.in_([call["id"] for call in held]),
            )
        )
    )
    waiting = [
        ToolCall(call["id"], call["name"], call["arguments"])
        for call in held
        if call["id"] not in answered
    ]
    return PendingApproval(latest, waiting) if waiting else None


def request_view(found: PendingApproval) -> dict[str, Any]:
    """The pending approval as Letta's ``ApprovalRequestMessage`` (``AgentState.pending_approval``):
    the first waiting call as ``tool_call``, all of them as ``tool_calls``."""
    waiting = {call.id for call in found.calls}
    (view,) = [
        view
        for view in letta_messages(found.message)
        if view["message_type"] == "approval_request_message"
    ]
    calls = [call for call in view["tool_calls"] if call["tool_call_id"] in waiting]
    return {**view, "tool_call": calls[0], "tool_calls": calls}


def approval_input(
    *,
    approve: bool | None,
    approval_request_id: str | None,
    reason: str | None,
    approvals: list[dict[str, Any]] | None,
    otid: str | None = None,
    field: str = "messages.approvals",
) -> InputMessage:
    """An approval message as the loop's input: either one decision for the whole request
    (``approve`` with ``approval_request_id``) or one per call (``approvals``, which came
    in the request as ``field``)."""
    if approvals is None and approve is None:
        raise InvalidInput("messages.approve", "an approval needs 'approve' or 'approvals'")
    answer = {
        "approve": approve,
        "approval_request_id": approval_request_id,
        "reason": reason,
        "approvals": approvals,
        "otid": otid,
        "field": field,
    }
    return InputMessage(role=APPROVAL_ROLE, text="", otid=otid, approval=answer)


def decide(found: PendingApproval | None, answer: dict[str, Any]) -> dict[str, Decision]:
    """Each waiting call's decision, by call id. Raises InvalidInput, naming the field, when
    nothing waits or the answer names calls that do not wait or leaves some out."""
    field = answer.get("field") or "messages.approvals"
    if found is None:
        where = "messages.approval_request_id"
        if answer.get("approvals"):
            where = f"{field}[0].tool_call_id"
        raise InvalidInput(where, "no tool call is waiting for approval")
    if answer.get("approvals") is None:
        asked = answer.get("approval_request_id")
        if asked is not None and asked != found.message.id:
            raise InvalidInput(
                "messages.approval_request_id",
                f"'{asked}' is not the pending approval request; that is '{found.message.id}'",
            )
        decision = Decision(bool(answer["approve"]), answer.get("reason"))
        whole = {call.id: decision for call in found.calls}
        _refuse_running_client_calls(found, whole, answer)
        return whole
    waiting = [call.id for call in found.calls]
    decisions: dict[str, Decision] = {}
    for index, item in enumerate(answer["approvals"]):
        call_id = item["tool_call_id"]
        if call_id not in waiting:
            raise InvalidInput(
                f"{field}[{index}].tool_call_id",
                f"'{call_id}' is not a call waiting for approval; waiting: {', '.join(waiting)}",
            )
        if call_id in decisions:
            raise InvalidInput(
                f"{field}[{index}].tool_call_id",
                f"'{call_id}' is decided twice in this approval; give each call one entry",
            )
        if item.get("type") == "tool":
            decisions[call_id] = Decision(
                True,
                tool_return=item["tool_return"],
                failed=item.get("status") == "error",
                stdout=item.get("stdout"),
                stderr=item.get("stderr"),
            )
        else:
            decisions[call_id] = Decision(bool(item["approve"]), item.get("reason"))
    missing = [call.id for call in found.calls if call.id not in decisions]
    if missing:
        raise InvalidInput(field, f"no decision for call(s) {', '.join(missing)}")
    _refuse_running_client_calls(found, decisions, answer)
    return decisions


def check_input(
    session: Session,
    agent_id: str,
    inputs: Sequence[InputMessage],
    conversation_id: str | None = None,
) -> None:
    """Refuse a request that does not fit the agent's approval state, before any run
    starts: an approval with nothing (or something else) pending is InvalidInput, a new
    message while an approval is pending is a Conflict. Raises NotFound for an unknown
    agent."""
    agents.get(session, agent_id)
    found = pending(session, agent_id, conversation_id)
    answers = [item.approval for item in inputs if item.role == APPROVAL_ROLE]
    if answers:
        if len(inputs) > 1:
            raise InvalidInput("messages", "an approval must be the only message of a request")
        decide(found, answers[0] or {})
    elif found is not None:
        names = ", ".join(f"'{call.name}' ({call.id})" for call in found.calls)
        raise Conflict(
            f"the agent waits for approval of {names} in approval request "
            f"'{found.message.id}': answer it with an approval message "
            '({"type": "approval", "approve": true|false, ...}) before sending new messages'
        )


async def answer_pending(
    deps: ApprovalDeps,
    agent_id: str,
    run_id: str,
    answer: dict[str, Any],
    ledger: MemoryLedger,
    before_run: Callable[[ToolBatch], Awaitable[ToolBatch]] | None = None,
    conversation_id: str | None = None,
) -> Answered:
    """Settle the pending approval through the tool pipeline a step uses (``run_batch``):
    the approved calls run (custom and external tools before the transaction), then the
    answer and every call's result are stored in one transaction, and the run's memory
    ``ledger`` records what approved memory tools did, as it would for a step's calls (their
    notes cite step 0: they run before the run's first step). Raises InvalidInput as
    ``decide`` does. ``before_run`` settles calls the pipeline does not run itself (the
    step's agent-to-agent calls) before the batch runs."""
    found = await deps.db.read(lambda session: pending(session, agent_id, conversation_id))
    decisions = decide(found, answer)
    assert found is not None  # decide refuses an answer with nothing pending
    state, _ = await deps.db.read(
        lambda session: load_state(
            session, agent_id, deps.windows, run_id=run_id, conversation_id=conversation_id
        )
    )
    agent, message = state.agent, found.message
    step_id = message.step_id or ""
    response = response_row(agent_id, run_id, found, answer, decisions)
    batch = ToolBatch(
        agent=agent,
        tools=state.tools,
        calls=found.calls,
        origin=CallOrigin(run_id, step_id, message.id),
        ledger=ledger,
        step_number=0,
        settled=_settled_without_running(found, decisions),
        conversation_id=conversation_id,
    )
    if before_run is not None:
        batch = await before_run(batch)
    model = LLMConfig.from_json(agent.llm_config).model

    def commit(session: Session, ran: BatchResult) -> tuple[list[t.Message], BatchResult]:
        rows = [tool_row(agent_id, run_id, step_id, call) for call in ran.executed]
        for row in rows:
            row.token_count = message_tokens(model, row)
        for row in [response, *rows]:
            row.conversation_id = conversation_id
        session.execute(insert(t.Message), [row_values(row) for row in [response, *rows]])
        return rows, ran

    rows, ran = await run_batch(deps, batch, commit)
    done = [(call.name, call.output) for call in ran.executed if not call.failed]
    rules = TurnRules(list(agent.tool_rules or [])).after(done)
    return Answered([response, *rows], rules, ran.ledger)


def _settled_without_running(
    found: PendingApproval, decisions: dict[str, Decision]
) -> dict[str, ExecutedCall]:
    """The results of the calls that do not run: denied ones, and those the client ran."""
    settled: dict[str, ExecutedCall] = {}
    for call in found.calls:
        decision = decisions[call.id]
        if decision.tool_return is not None:
            settled[call.id] = ExecutedCall(
                call.id, call.name, decision.tool_return, decision.failed, False
            )
        elif not decision.approve:
            why = f": {decision.reason}" if decision.reason else ""
            output = f"Error: the user denied this call{why}"
            settled[call.id] = ExecutedCall(call.id, call.name, output, True, False)
    return settled


def response_row(
    agent_id: str,
    run_id: str,
    found: PendingApproval,
    answer: dict[str, Any],
    decisions: dict[str, Decision],
) -> t.Message:
    """The answer as a stored message (Letta's approval response): the fields the client
    sent, the request it answers, and one entry per waiting call as decided. It belongs to
    the step that made the calls, as their results do."""
    return t.Message(
        id=new_id("message"),
        agent_id=agent_id,
        role=APPROVAL_ROLE,
        approval={
            "approve": answer.get("approve"),
            "approval_request_id": found.message.id,
            "reason": answer.get("reason"),
            "approvals": [decisions[call.id].entry(call.id) for call in found.calls],
        },
        otid=answer.get("otid"),
        run_id=run_id,
        step_id=found.message.step_id,
        token_count=0,
        created_at=datetime.now(UTC),
    )
