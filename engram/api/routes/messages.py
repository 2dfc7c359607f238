"""Talking to an agent, reading its history, and looking into its context window."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from engram.api import serialize
from engram.api.deps import IfBusy, Limit, Runtime, json_reply
from engram.api.routes.streaming import stream_reply
from engram.api.schemas import CompactionRequest, MessageType, ResetMessages, SendMessages
from engram.api.turns import (
    FAILED_TURN_STATUS,
    failure,
    run_plain_turn,
    turn_failed,
    turn_options,
    turn_reply,
)
from engram.ops import agent_context
from engram.ops import messages as message_ops
from engram.runtime.step import TurnResult
from engram.runtime.turn_options import TurnOptions
from engram.runtime.views import listing

router = APIRouter(prefix="/v1/agents/{agent_id}", tags=["messages"])


@router.post("/messages")
async def send_message(agent_id: str, body: SendMessages, rt: Runtime, if_busy: IfBusy) -> Response:
    """Run a turn and answer with what it did. The run is recorded before the turn waits
    for its agent, as a stream's and a queued run's are: it lists as active and
    ``/messages/cancel`` stops it between steps. Bad input, an unknown agent and (with
    ``if_busy=reject``) a busy agent are refused before anything is recorded."""
    if body.streaming:
        return await stream_reply(rt, agent_id, body, if_busy)
    options = await turn_options(rt, body, answers_logprobs=True)
    return await answer_turn(rt, agent_id, body, if_busy, options)


async def answer_turn(
    rt: Runtime, agent_id: str, body: SendMessages, if_busy: IfBusy, options: TurnOptions
) -> Response:
    """Record the run, run the turn and answer with what it did (or, when its model call
    failed, as Letta answers such a turn); shared by the agent's and a conversation's
    plain message routes."""
    result = await run_plain_turn(rt, agent_id, body, if_busy, options)
    if turn_failed(result):
        return failed_turn_reply(result)
    return json_reply(turn_reply(result))


def failed_turn_reply(result: TurnResult) -> JSONResponse:
    """A turn whose model call failed, answered as Letta answers one: an error status and
    its ``{"error": {"type", "message", "detail"}}`` body. Beside it go the run's id, the
    stop reason, and what the turn committed before it failed (``messages``, ``usage``).
    Not retried by letta-client: the request's steps that did commit would run again."""
    status = FAILED_TURN_STATUS.get(result.stop_reason, 502)
    body = {
        "error": failure(result),
        "detail": result.error,
        "run_id": result.run_id,
        **turn_reply(result),
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
    use_assistant_message: bool = True,
    include_return_message_types: Annotated[list[MessageType] | None, Query()] = None,
    conversation_id: str | None = None,
    group_id: str | None = None,
    include_err: bool | None = None,
) -> Response:
    """A page of the history. ``use_assistant_message=false`` shows ``send_message`` calls
    as the tool calls they are; ``include_return_message_types`` keeps only those types
    (of the page's messages: a page may hold fewer than ``limit``). ``conversation_id``
    (an id, or ``default``) keeps that thread's messages. Messages record no group, so
    ``group_id`` matches none; the history holds no error messages
    (a failed step stores nothing), so ``include_err`` has none to add."""
    query = message_ops.MessageQuery(
        before=before, after=after, limit=limit, order=order, conversation_id=conversation_id
    )
    rows = await message_ops.list_messages(rt, agent_id, query)
    if group_id is not None:
        rows = []
    views = listing(
        rows,
        descending=order == "desc",
        use_assistant_message=use_assistant_message,
        message_types=include_return_message_types,
    )
    return json_reply(views)


@router.patch("/reset-messages")
async def reset_messages(
    agent_id: str, rt: Runtime, body: ResetMessages | None = None
) -> dict[str, Any]:
    """Empty the window (history stays in recall) and drop the running summary; with
    ``add_default_initial_messages``, start it again with the agent's initial messages."""
    add_initial = body is not None and body.add_default_initial_messages
    return serialize.agent(await message_ops.reset(rt, agent_id, add_initial=add_initial))


@router.post("/summarize")
async def summarize(
    agent_id: str, rt: Runtime, body: CompactionRequest | None = None
) -> dict[str, Any]:
    """Fold the window now; the request's ``compaction_settings`` hold for this fold."""
    settings = body.settings() if body is not None else None
    return serialize.compaction(await message_ops.compact(rt, agent_id, settings))


@router.get("/context")
async def context_window(agent_id: str, rt: Runtime) -> Response:
    return json_reply(await agent_context.overview(rt, agent_id))


@router.post("/recompile")
async def recompile(
    agent_id: str, rt: Runtime, dry_run: bool = False, update_timestamp: bool = False
) -> str:
    """The system prompt the next step will send. ``update_timestamp`` needs no work here:
    the prompt's last-edit time is always that of the agent's blocks as stored."""
    return await agent_context.recompile(rt, agent_id, dry_run=dry_run)
