"""``/v1/conversations``: many threads of one agent (docs/conversations.md).

A conversation id, or ``"default"`` with an ``agent_id`` for the agent's own thread, is
resolved first (404 for an unknown one, or one of another agent); a turn in it goes
through the agent's turn entry points with the conversation in its options."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from engram.api import serialize
from engram.api.conversation_requests import (
    ConversationCompaction,
    ConversationMessage,
    ConversationStream,
    CreateConversation,
    UpdateConversation,
    conversation,
)
from engram.api.deps import IfBusy, Limit, Runtime, json_reply
from engram.api.routes.messages import answer_turn
from engram.api.routes.streaming import SSE_HEADERS, _server_sent, stream_reply
from engram.api.schemas import MessageType
from engram.api.turns import queue_turn, turn_options
from engram.ops import conversation_work as work
from engram.ops import conversations as ops
from engram.ops.messages import MessageQuery
from engram.ops.run_stream import check_run, follow_run
from engram.runtime.views import listing

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

AgentId = Annotated[str | None, Query()]


@router.post("/")
async def create_conversation(
    agent_id: str, rt: Runtime, body: CreateConversation | None = None
) -> dict[str, Any]:
    return conversation(await ops.create(rt, agent_id, (body or CreateConversation()).spec()))


@router.get("/")
async def list_conversations(
    rt: Runtime,
    agent_id: AgentId = None,
    limit: Limit = 50,
    after: str | None = None,
    summary_search: str | None = None,
    order: Literal["asc", "desc"] = "desc",
    order_by: Literal["created_at", "last_run_completion", "last_message_at"] = "created_at",
) -> Response:
    query = ops.ConversationQuery(
        agent_id=agent_id,
        after=after,
        limit=limit,
        order=order,
        order_by=order_by,
        summary_search=summary_search,
    )
    return json_reply([conversation(item) for item in await ops.list_conversations(rt, query)])


@router.get("/{conversation_id}")
async def retrieve_conversation(conversation_id: str, rt: Runtime) -> dict[str, Any]:
    return conversation(await ops.retrieve(rt, conversation_id))


@router.patch("/{conversation_id}")
async def update_conversation(
    conversation_id: str, body: UpdateConversation, rt: Runtime
) -> dict[str, Any]:
    return conversation(await ops.update(rt, conversation_id, body.spec()))


@router.delete("/{conversation_id}")
async def delete_conversation(conversation_id: str, rt: Runtime) -> None:
    await ops.delete_conversation(rt, conversation_id)


@router.post("/{conversation_id}/messages", response_model=None)
async def send_conversation_message(
    conversation_id: str, body: ConversationMessage, rt: Runtime, if_busy: IfBusy
) -> Response | dict[str, Any]:
    """A turn in the conversation: streamed unless ``streaming`` is false; with
    ``background`` the turn is queued (a stream then follows its run)."""
    thread = await ops.resolve_thread(rt, conversation_id, body.agent_id)
    agent_id = thread.agent_id
    if body.streaming and not body.background:
        return await stream_reply(rt, agent_id, body, if_busy, thread.conversation_id)
    options = await turn_options(rt, body, answers_logprobs=not body.streaming)
    options = replace(options, conversation_id=thread.conversation_id)
    if body.background:
        run = await queue_turn(rt, agent_id, body, if_busy, options)
        if not body.streaming:
            return serialize.run(run)
        return await _follow(rt, run.id, ConversationStream(include_pings=body.include_pings))
    return await answer_turn(rt, agent_id, body, if_busy, options)


@router.get("/{conversation_id}/messages")
async def list_conversation_messages(
    conversation_id: str,
    rt: Runtime,
    agent_id: AgentId = None,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 100,
    order: Literal["asc", "desc"] = "desc",
    use_assistant_message: bool = True,
    include_return_message_types: Annotated[list[MessageType] | None, Query()] = None,
    order_by: Literal["created_at"] = "created_at",
    group_id: str | None = None,
    include_err: bool | None = None,
) -> Response:
    """The conversation's messages, as the agent's history route lists them: messages
    record no group, so ``group_id`` matches none, and a failed step stores no error
    message, so ``include_err`` has none to add."""
    thread = await ops.resolve_thread(rt, conversation_id, agent_id)
    query = MessageQuery(before=before, after=after, limit=limit, order=order)
    rows = [] if group_id is not None else await work.list_messages(rt, thread, query)
    views = listing(
        rows,
        descending=order == "desc",
        use_assistant_message=use_assistant_message,
        message_types=include_return_message_types,
    )
    return json_reply(views)


@router.post("/{conversation_id}/cancel")
async def cancel_conversation(
    conversation_id: str, rt: Runtime, agent_id: AgentId = None
) -> dict[str, str]:
    thread = await ops.resolve_thread(rt, conversation_id, agent_id)
    return await work.cancel(rt, thread)


@router.post("/{conversation_id}/compact")
async def compact_conversation(
    conversation_id: str, rt: Runtime, body: ConversationCompaction | None = None
) -> dict[str, Any]:
    thread = await ops.resolve_thread(rt, conversation_id, body.agent_id if body else None)
    return serialize.compaction(await work.compact(rt, thread, body.settings() if body else None))


@router.post("/{conversation_id}/fork")
async def fork_conversation(
    conversation_id: str, rt: Runtime, agent_id: AgentId = None
) -> dict[str, Any]:
    thread = await ops.resolve_thread(rt, conversation_id, agent_id)
    return conversation(await work.fork(rt, thread))


@router.post("/{conversation_id}/recompile")
async def recompile_conversation(
    conversation_id: str,
    rt: Runtime,
    dry_run: bool = False,
    body: ConversationCompaction | None = None,
) -> str:
    thread = await ops.resolve_thread(rt, conversation_id, body.agent_id if body else None)
    return await work.recompile(rt, thread, dry_run=dry_run)


@router.post("/{conversation_id}/stream")
async def retrieve_conversation_stream(
    conversation_id: str, rt: Runtime, body: ConversationStream | None = None
) -> StreamingResponse:
    """Follow the conversation's active run, or replay its last one."""
    request = body or ConversationStream()
    thread = await ops.resolve_thread(rt, conversation_id, request.agent_id)
    run_id = await work.run_to_follow(rt, thread)
    return await _follow(rt, run_id, request)


async def _follow(rt: Runtime, run_id: str, request: ConversationStream) -> StreamingResponse:
    options = request.to_op(run_id)
    await check_run(rt, run_id, options)
    return StreamingResponse(
        _server_sent(follow_run(rt, run_id, options)),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
