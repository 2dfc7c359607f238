"""Talking to an agent, reading its history, and looking into its context window."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from engram.api import serialize
from engram.api.deps import IfBusy, Limit, Runtime, json_reply
from engram.api.schemas import (
    ApprovalCreate,
    MessageCreate,
    ResetMessages,
    SendMessages,
    ToolReturnCreate,
)
from engram.errors import InvalidInput
from engram.ops import agents as agent_ops
from engram.runtime import approvals, inspect_context
from engram.runtime.engine import Services
from engram.runtime.folding import fold_window
from engram.runtime.input_fit import check_inputs_fit
from engram.runtime.runs import create_run
from engram.runtime.step import InputMessage, run_turn
from engram.runtime.views import listing
from engram.store import agents, messages

router = APIRouter(prefix="/v1/agents/{agent_id}", tags=["messages"])


def _inputs(body: SendMessages) -> list[InputMessage]:
    if body.messages:
        return [_input(m) for m in body.messages]
    if body.input:
        return [InputMessage(role="user", text=body.input)]
    raise InvalidInput("messages", "send at least one message (or an 'input' string)")


def _input(message: MessageCreate | ApprovalCreate | ToolReturnCreate) -> InputMessage:
    if isinstance(message, ToolReturnCreate):
        return approvals.approval_input(
            approve=None,
            approval_request_id=None,
            reason=None,
            approvals=[item.decision() for item in message.tool_returns],
            otid=message.otid,
            field="messages.tool_returns",
        )
    if isinstance(message, ApprovalCreate):
        return approvals.approval_input(
            approve=message.approve,
            approval_request_id=message.approval_request_id,
            reason=message.reason,
            approvals=message.decisions(),
            otid=message.otid,
        )
    text = message.text()
    return InputMessage(role=message.role, text=text, name=message.name, otid=message.otid)


async def checked_inputs(rt: Services, agent_id: str, body: SendMessages) -> list[InputMessage]:
    """The request's messages, refused before any run starts if the agent's approval state
    does not allow them (runtime/approvals.py)."""
    inputs = _inputs(body)

    def _check(session: Session) -> None:
        approvals.check_input(session, agent_id, inputs)
        check_inputs_fit(session, agent_id, inputs)

    await rt.db.read(_check)
    return inputs


def request_config(body: SendMessages) -> dict[str, Any]:
    """What a run shows of the request that made it (Letta's ``request_config``)."""
    return {
        "use_assistant_message": body.use_assistant_message,
        "assistant_message_tool_name": "send_message",
        "assistant_message_tool_kwarg": "message",
        "include_return_message_types": None,
    }


@router.post("/messages")
async def send_message(agent_id: str, body: SendMessages, rt: Runtime, if_busy: IfBusy) -> Response:
    """Run a turn and answer with what it did. The run is recorded before the turn waits
    for its agent, as a stream's and a queued run's are: it lists as active and
    ``/messages/cancel`` stops it between steps. Bad input, an unknown agent and (with
    ``if_busy=reject``) a busy agent are refused before anything is recorded."""
    if body.streaming:
        from engram.api.routes.streaming import stream_reply  # it imports this module

        return await stream_reply(rt, agent_id, body, if_busy)
    inputs = await checked_inputs(rt, agent_id, body)
    if if_busy == "reject":
        await rt.gate.refuse_if_busy(agent_id)
    run = await create_run(rt, agent_id, request_config=request_config(body))
    result = await run_turn(
        rt, agent_id, inputs, if_busy=if_busy, run_id=run.id, max_steps=body.max_steps
    )
    reply = {
        "messages": result.messages,
        "stop_reason": {"message_type": "stop_reason", "stop_reason": result.stop_reason},
        "usage": result.usage(),
        "logprobs": None,
        "turns": None,
    }
    if result.error is None or result.stop_reason == "cancelled":
        return json_reply(reply)  # a run cancelled meanwhile answers as cancelled
    return failed_turn_reply(result.run_id, result.stop_reason, result.error, reply)


FAILED_TURN_STATUS = {"context_window_overflow_in_system_prompt": 400}
"""The HTTP status of a turn that failed, by stop reason; 502 for the rest (docs/api.md)."""
FAILED_TURN_TYPE = {
    "llm_api_error": "llm_error",
    "context_window_overflow_in_system_prompt": "context_window_exceeded",
}


def failed_turn_reply(
    run_id: str, stop_reason: str, error: str, reply: dict[str, Any]
) -> JSONResponse:
    """A turn whose model call failed, answered as Letta answers one: an error status and
    its ``{"error": {"type", "message", "detail"}}`` body. Beside it go the run's id, the
    stop reason, and what the turn committed before it failed (``messages``, ``usage``).
    Not retried by letta-client: the request's steps that did commit would run again."""
    status = FAILED_TURN_STATUS.get(stop_reason, 502)
    kind = FAILED_TURN_TYPE.get(stop_reason, "agent_error")
    body = {
        "error": {"type": kind, "message": f"the run failed ({stop_reason})", "detail": error},
        "detail": error,
        "run_id": run_id,
        **reply,
    }
    return JSONResponse(body, status_code=status, headers={"x-should-retry": "false"})


@router.get("/messages")
async def list_messages(
    agent_id: str,
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 100,
    order: Literal["asc", "desc"] = "desc",
) -> Response:
    def _read(session: Session) -> Any:
        agents.get(session, agent_id)
        rows = messages.list_messages(
            session,
            agent_id,
            before=before,
            after=after,
            limit=limit,
            descending=order == "desc",
        )
        return rows

    rows = await rt.db.read(_read)
    return json_reply(listing(rows, descending=order == "desc"))


@router.patch("/reset-messages")
async def reset_messages(
    agent_id: str, rt: Runtime, body: ResetMessages | None = None
) -> dict[str, Any]:
    """Empty the window (history stays in recall) and drop the running summary."""

    def _write(session: Session) -> Any:
        agent = agents.get(session, agent_id)
        agent.window_start_seq = messages.last_seq(session, agent_id)
        agent.summary = ""
        agent.summary_tokens = 0
        session.flush()
        return serialize.agent(agent_ops.bundle(session, agent_id))

    return await rt.db.write(_write)


@router.post("/summarize")
async def summarize(agent_id: str, rt: Runtime) -> dict[str, Any]:
    def _read(session: Session) -> Any:
        agent = agents.get(session, agent_id)
        before = len(messages.in_context(session, agent))
        return agent, before

    agent, before = await rt.db.read(_read)
    async with rt.agent_lock(agent_id):
        fold = await fold_window(rt, agent_id, force=True)

    def _read(session: Session) -> Any:
        agent = agents.get(session, agent_id)
        after = len(messages.in_context(session, agent))
        return agent, after

    agent, after = await rt.db.read(_read)
    return {
        "summary": fold.summary if fold else agent.summary,
        "num_messages_before": before,
        "num_messages_after": after,
    }


@router.get("/context")
async def context_window(agent_id: str, rt: Runtime) -> Response:
    return json_reply(await inspect_context.overview(rt, agent_id))
