"""Talking to an agent, reading its history, and looking into its context window."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
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
from engram.runtime import agents as agent_ops
from engram.runtime import approvals, inspect_context
from engram.runtime.engine import Engram
from engram.runtime.folding import fold_window
from engram.runtime.input_fit import check_inputs_fit
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


async def checked_inputs(rt: Engram, agent_id: str, body: SendMessages) -> list[InputMessage]:
    """The request's messages, refused before any run starts if the agent's approval state
    does not allow them (runtime/approvals.py)."""
    inputs = _inputs(body)

    def _check(session: Session) -> None:
        approvals.check_input(session, agent_id, inputs)
        check_inputs_fit(session, agent_id, inputs)

    await rt.db.read(_check)
    return inputs


@router.post("/messages")
async def send_message(agent_id: str, body: SendMessages, rt: Runtime, if_busy: IfBusy) -> Response:
    if body.streaming:
        from engram.api.routes.streaming import stream_reply  # it imports this module

        return await stream_reply(rt, agent_id, body, if_busy)
    # An unknown agent surfaces from the first step as a 404, before anything is written.
    inputs = await checked_inputs(rt, agent_id, body)
    result = await run_turn(rt, agent_id, inputs, max_steps=body.max_steps)
    return json_reply(
        {
            "messages": result.messages,
            "stop_reason": {"message_type": "stop_reason", "stop_reason": result.stop_reason},
            "usage": result.usage(),
            "logprobs": None,
            "turns": None,
        }
    )


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
