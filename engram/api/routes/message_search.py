"""Messages across agents: search by keywords and meaning, and one message by id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from engram.api import serialize
from engram.api.deps import Runtime
from engram.api.memory_requests import SearchAllMessages
from engram.ops import messages as message_ops
from engram.runtime.views import letta_messages

router = APIRouter(tags=["messages"])


@router.post("/v1/messages/search")
async def search_all_messages(body: SearchAllMessages, rt: Runtime) -> list[dict[str, Any]]:
    """Best matches first, over one agent's history or every agent's."""
    rows = await message_ops.search(rt, body.search())
    return [result for row in rows for result in serialize.message_search_results(row)][
        : body.limit
    ]


@router.get("/v1/messages/{message_id}")
async def retrieve_message(message_id: str, rt: Runtime) -> list[dict[str, Any]]:
    """The Letta messages one stored message shows as (several for one assistant turn)."""
    return letta_messages(await message_ops.retrieve(rt, message_id))
