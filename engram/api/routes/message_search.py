"""Messages across agents: listing them all, search by keywords and meaning, and one
message by id."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from engram.api import serialize
from engram.api.deps import Limit, Runtime, json_reply
from engram.api.memory_requests import MessageType, SearchAllMessages
from engram.api.rerank_header import add_rerank_header
from engram.ops import messages as message_ops
from engram.runtime.views import letta_messages, listing

router = APIRouter(tags=["messages"])


@router.get("/v1/messages/")
async def list_all_messages(
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 100,
    order: Literal["asc", "desc"] = "desc",
    conversation_id: str | None = None,
    include_return_message_types: Annotated[list[MessageType] | None, Query()] = None,
) -> Response:
    """Every agent's messages, newest first unless ``order=asc``. ``limit`` counts stored
    messages (one can show as several Letta messages), before the type filter.
    ``conversation_id`` keeps one conversation's messages."""
    query = message_ops.MessageQuery(
        before=before, after=after, limit=limit, order=order, conversation_id=conversation_id
    )
    rows = await message_ops.list_all(rt, query)
    views = listing(rows, descending=order == "desc")
    if include_return_message_types is not None:
        wanted = set(include_return_message_types)
        views = [view for view in views if view["message_type"] in wanted]
    return json_reply(views)


@router.post("/v1/messages/search")
async def search_all_messages(
    body: SearchAllMessages, rt: Runtime, response: Response
) -> list[dict[str, Any]]:
    """Best matches first, over one agent's history or every agent's (a reranker's
    work, when one is configured, in ``X-Engram-Rerank``)."""
    rows = await message_ops.search(rt, body.search())
    add_rerank_header(response, rows.note)
    return [result for row in rows.items for result in serialize.message_search_results(row)][
        : body.limit
    ]


@router.get("/v1/messages/{message_id}")
async def retrieve_message(message_id: str, rt: Runtime) -> list[dict[str, Any]]:
    """The Letta messages one stored message shows as (several for one assistant turn)."""
    return letta_messages(await message_ops.retrieve(rt, message_id))
