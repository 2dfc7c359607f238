"""Letta's agent-to-agent built-ins: a tool call of one agent runs a turn of another agent
on this server, through the same turn loop a client's message goes through.

The calls run before the caller's step transaction opens (``settle_agent_calls``, called
by the step between the model's answer and ``tool_batch.run_batch``), and their results
are recorded with the step like any other result made ahead. Each target's turn is a run
of the target agent of its own, with its own lock and its own transactions.

Two agents must not call each other forever, nor wait on each other:

- every call one level deeper than the turn making it; past ``ENGRAM_AGENT_CALL_DEPTH``
  levels the call is a tool error saying so (the depth travels with the turn, and with a
  queued turn in its job);
- an agent never sends to itself (its own turn is running);
- a waited-for target that is running a turn is refused at once (``if_busy=reject``), so a
  cycle (A waits on B, B calls A) is a tool error for B, never a deadlock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engram.errors import EngramError, NotFound
from engram.llm.client import ToolCall
from engram.runtime.agent_gate import BusyPolicy
from engram.runtime.runs import create_run
from engram.runtime.step_rows import InputMessage
from engram.runtime.tool_batch import ToolBatch
from engram.runtime.tool_calls import PARALLEL_TOOL_CALLS, CallInput, ExecutedCall
from engram.runtime.turn import TurnDeps, TurnResult
from engram.store import agents
from engram.store import tables as t
from engram.tools.schema import builtin_schema

WAIT_FOR_REPLY = "send_message_to_agent_and_wait_for_reply"
SEND_ASYNC = "send_message_to_agent_async"
MATCHING_TAGS = "send_message_to_agents_matching_tags"
MULTI_AGENT_TOOLS = (WAIT_FOR_REPLY, SEND_ASYNC, MATCHING_TAGS)
"""Letta's multi-agent tools, which ``include_multi_agent_tools`` gives an agent."""

log = logging.getLogger(__name__)

AGENT_CALL_TOOL_TYPE = "letta_multi_agent_core"
AGENT_CALL_JOB = "agent_call_turn"
"""The job running a target's turn queued by ``send_message_to_agent_async``."""

TARGET_MAX_STEPS = 50
"""Steps a target's turn may take (a client's message gets the same by default)."""
MATCHED_AGENTS_LIMIT = 50
"""Agents one ``send_message_to_agents_matching_tags`` call reaches at most."""
SENT = "Successfully sent message"

_MESSAGE = {"type": "string", "description": "What to tell the other agent."}
_AGENT_ID = {"type": "string", "description": "The id of the agent to send it to."}
_TAG_LIST = {"type": "array", "items": {"type": "string"}}


def _every_argument_required(
    name: str, description: str, properties: dict[str, Any]
) -> dict[str, Any]:
    return builtin_schema(name, description, properties, list(properties))


AGENT_CALL_SCHEMAS: dict[str, dict[str, Any]] = {
    WAIT_FOR_REPLY: _every_argument_required(
        WAIT_FOR_REPLY,
        "Send a message to another agent on this server and wait for its answer. The "
        "other agent is told who sent it; the result holds its reply.",
        {"message": _MESSAGE, "other_agent_id": _AGENT_ID},
    ),
    SEND_ASYNC: _every_argument_required(
        SEND_ASYNC,
        "Send a one-way message to another agent on this server without waiting: it "
        "handles the message in a turn of its own, later. The other agent is told who sent it.",
        {"message": _MESSAGE, "other_agent_id": _AGENT_ID},
    ),
    MATCHING_TAGS: _every_argument_required(
        MATCHING_TAGS,
        "Send a message to every other agent that has all the tags in match_all and at "
        "least one of the tags in match_some (an empty list does not narrow), and collect "
        "their replies.",
        {
            "message": _MESSAGE,
            "match_all": {**_TAG_LIST, "description": "Tags an agent must all have."},
            "match_some": {**_TAG_LIST, "description": "Tags an agent needs one of."},
        },
    ),
}


class TurnRunner(Protocol):
    """``engram.runtime.step.run_turn``, handed in by its callers (the step imports this
    module, so this module cannot import it)."""

    def __call__(
        self,
        deps: TurnDeps,
        agent_id: str,
        inputs: list[InputMessage],
        *,
        if_busy: BusyPolicy,
        run_id: str | None = None,
        max_steps: int = 50,
        requeue_if_stopped: bool = False,
        call_depth: int = 0,
    ) -> Awaitable[TurnResult]: ...


class CallRefused(Exception):
    """An agent call that cannot go ahead; its message is what the model reads."""


@dataclass(frozen=True)
class _Caller:
    deps: TurnDeps
    sender_id: str
    run: TurnRunner
    depth: int
    """How many agent calls deep the caller's own turn is (0: a client's turn)."""


async def settle_agent_calls(
    deps: TurnDeps, batch: ToolBatch, run: TurnRunner, depth: int
) -> ToolBatch:
    """Run the batch's calls of the agent-to-agent tools attached to its agent, one after
    another, with no transaction open; the batch with their results as settled. ``depth``:
    how many agent calls deep the batch's turn is."""
    attached = {tool.name for tool in batch.tools}
    wanted = [
        call
        for call in batch.calls
        if call.name in AGENT_CALL_SCHEMAS and call.name in attached
        if call.id not in batch.settled
    ]
    if not wanted:
        return batch
    caller = _Caller(deps, batch.agent.id, run, depth)
    done = {call.id: await _execute(caller, call) for call in wanted}
    return replace(batch, settled={**batch.settled, **done})


def register_jobs(deps: TurnDeps, run: TurnRunner) -> None:
    """Tell ``deps.jobs`` how to run a queued target's turn; called once at start."""
    deps.jobs.register(AGENT_CALL_JOB, partial(_queued_turn, deps, run))


async def _queued_turn(deps: TurnDeps, run: TurnRunner, payload: dict[str, Any]) -> None:
    await run(
        deps,
        payload["agent_id"],
        [InputMessage(**item) for item in payload["inputs"]],
        # The caller has moved on: the target takes the message once it is free.
        if_busy="wait",
        run_id=payload["run_id"],
        max_steps=payload["max_steps"],
        requeue_if_stopped=True,
        call_depth=int(payload.get("call_depth", 1)),
    )


async def _execute(caller: _Caller, call: ToolCall) -> ExecutedCall:
    read = CallInput.of(call)
    arguments = read.arguments
    if arguments is None:
        return read.not_an_object()
    problem = _argument_problem(call.name, arguments)
    if problem is not None:
        return read.fail(f"{call.name}: {problem}", malformed=True)
    try:
        return read.answer(await _TOOLS[call.name](caller, **arguments))
    except CallRefused as exc:
        return read.fail(str(exc))


def _argument_problem(name: str, arguments: dict[str, Any]) -> str | None:
    properties = AGENT_CALL_SCHEMAS[name]["parameters"]["properties"]
    unknown = sorted(set(arguments) - set(properties))
    if unknown:
        return f"unexpected argument(s) {', '.join(unknown)}; expected {', '.join(properties)}"
    missing = [key for key in properties if key not in arguments]
    if missing:
        return f"missing required argument(s): {', '.join(missing)}"
    for key, spec in properties.items():
        value = arguments[key]
        if spec["type"] == "string" and not isinstance(value, str):
            return f"{key} must be a string"
        if spec["type"] == "array" and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            return f"{key} must be a list of strings"
    return None


async def _wait_for_reply(caller: _Caller, message: str, other_agent_id: str) -> str:
    depth = _next_depth(caller)
    await _check_target(caller, other_agent_id)
    text = (
        f"[Incoming message from agent with ID '{caller.sender_id}' - your reply will be "
        f"returned to that agent] {message}"
    )
    return str(await _run_target(caller, other_agent_id, text, depth))


async def _send_async(caller: _Caller, message: str, other_agent_id: str) -> str:
    depth = _next_depth(caller)
    await _check_target(caller, other_agent_id)
    text = (
        f"[Incoming message from agent with ID '{caller.sender_id}' - a one-way message; to "
        f"answer it, send one back with the '{SEND_ASYNC}' tool] {message}"
    )
    turn_input = {
        "inputs": [asdict(InputMessage(role="system", text=text))],
        "max_steps": TARGET_MAX_STEPS,
    }
    deps = caller.deps
    try:
        run = await create_run(deps, other_agent_id, background=True, turn_input=turn_input)
    except NotFound:  # deleted since it was checked
        raise CallRefused(f"no agent with id '{other_agent_id}' exists on this server") from None
    payload = {"agent_id": other_agent_id, "run_id": run.id, **turn_input, "call_depth": depth}
    await deps.jobs.enqueue(AGENT_CALL_JOB, payload)
    return SENT


async def _matching_tags(
    caller: _Caller, message: str, match_all: list[str], match_some: list[str]
) -> str:
    depth = _next_depth(caller)
    targets = await caller.deps.db.read(
        lambda session: _agents_matching(session, match_all, match_some, caller.sender_id)
    )
    text = (
        f"[Message from agent with ID '{caller.sender_id}' to the agents matching its tags - "
        f"your reply will be returned to that agent] {message}"
    )
    gate = asyncio.Semaphore(PARALLEL_TOOL_CALLS)

    async def one(target: str) -> dict[str, Any]:
        async with gate:
            try:
                return await _run_target(caller, target, text, depth)
            except CallRefused as exc:
                return {"agent_id": target, "error": str(exc)}

    return str(list(await asyncio.gather(*(one(target) for target in targets))))


_TOOLS: dict[str, Callable[..., Awaitable[str]]] = {
    WAIT_FOR_REPLY: _wait_for_reply,
    SEND_ASYNC: _send_async,
    MATCHING_TAGS: _matching_tags,
}


def _next_depth(caller: _Caller) -> int:
    """The depth the target's turn runs at; refused past the configured limit."""
    limit = caller.deps.settings.agent_call_depth
    depth = caller.depth + 1
    if depth > limit:
        raise CallRefused(
            f"agent-to-agent call refused: it would be {depth} calls deep, and this server "
            f"allows {limit} (ENGRAM_AGENT_CALL_DEPTH); answer without calling another agent"
        )
    return depth


async def _check_target(caller: _Caller, target: str) -> None:
    if target == caller.sender_id:
        raise CallRefused(
            "an agent cannot send a message to itself (its own turn is the one running)"
        )
    try:
        await caller.deps.db.read(lambda session: agents.get(session, target))
    except NotFound:
        raise CallRefused(f"no agent with id '{target}' exists on this server") from None


async def _run_target(caller: _Caller, target: str, text: str, depth: int) -> dict[str, Any]:
    """One turn of ``target`` with ``text`` as its input, run here and now; its replies
    as Letta answers them (``{"agent_id": ..., "response": [...]}``)."""
    try:
        # A busy target is refused before a run of it is recorded.
        await caller.deps.gate.refuse_if_busy(target)
        result = await caller.run(
            caller.deps,
            target,
            [InputMessage(role="system", text=text)],
            if_busy="reject",
            max_steps=TARGET_MAX_STEPS,
            call_depth=depth,
        )
    except EngramError as exc:
        raise CallRefused(f"agent '{target}' could not take the message: {exc}") from None
    except Exception as exc:  # a fault in the target's turn must not end the caller's
        log.exception("the turn of agent %s, called by agent %s, failed", target, caller.sender_id)
        raise CallRefused(f"agent '{target}' failed to answer ({type(exc).__name__})") from None
    if result.error is not None:
        raise CallRefused(
            f"agent '{target}' ended its turn with {result.stop_reason}: {result.error}"
        )
    replies = [
        str(message.get("content"))
        for message in result.messages
        if message.get("message_type") == "assistant_message"
    ]
    return {"agent_id": target, "response": replies or ["<no response>"]}


def _agents_matching(
    session: Session, match_all: list[str], match_some: list[str], sender_id: str
) -> list[str]:
    """Ids of the agents, the sender aside, having every tag of ``match_all`` and one of
    ``match_some`` (an empty list does not narrow), first by id."""
    query = select(t.Agent.id).where(t.Agent.id != sender_id)
    wanted_all = set(match_all)
    if wanted_all:
        having_all = (
            select(t.AgentTag.agent_id)
            .where(t.AgentTag.tag.in_(wanted_all))
            .group_by(t.AgentTag.agent_id)
            .having(func.count(t.AgentTag.tag) == len(wanted_all))
        )
        query = query.where(t.Agent.id.in_(having_all))
    if match_some:
        having_some = select(t.AgentTag.agent_id).where(t.AgentTag.tag.in_(set(match_some)))
        query = query.where(t.Agent.id.in_(having_some))
    return list(session.scalars(query.order_by(t.Agent.id).limit(MATCHED_AGENTS_LIMIT)))
