"""Messages across agents: search by keywords and meaning, and one message by id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.api.deps import Runtime
from engram.api.schemas import Body
from engram.errors import InvalidInput, NotFound
from engram.memory import recall
from engram.runtime.views import letta_messages
from engram.store import agents
from engram.store import tables as t
from engram.store.tables import as_utc

router = APIRouter(tags=["messages"])

# The message types a search result can be (the contract's *MessageListResult shapes).
SEARCHABLE_ROLES = ("user", "assistant", "system")
_RESULT_TYPES = {"user_message", "assistant_message", "system_message"}


class SearchAllMessages(Body):
    query: str = Field(min_length=1)
    search_mode: Literal["vector", "fts", "hybrid"] = "hybrid"
    agent_id: str | None = None
    conversation_id: str | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    start_date: str | None = None
    end_date: str | None = None


def _parse_time(field: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value)).astimezone(UTC)
    except ValueError as exc:
        raise InvalidInput(field, f"not an ISO 8601 date or time: '{value}'") from exc


@router.post("/v1/messages/search")
async def search_all_messages(body: SearchAllMessages, rt: Runtime) -> list[dict[str, Any]]:
    """Best matches first, over one agent's history or every agent's.

    Without an agent, the vector half covers the agents using the server's default
    embedding model (vectors of different models cannot be compared)."""
    if body.conversation_id is not None:
        raise InvalidInput(
            "conversation_id", "conversations are not served yet; search by agent_id instead"
        )
    start = _parse_time("start_date", body.start_date)
    end = _parse_time("end_date", body.end_date)

    def _embedding_config(session: Session) -> dict[str, Any]:
        if body.agent_id is not None:
            return agents.get(session, body.agent_id).embedding_config
        return rt.embeddings.local_config()

    config = await rt.db.read(_embedding_config)
    vector = None
    if body.search_mode != "fts":
        embedder = rt.embeddings.embedder_for(config)
        vector = (await embedder.embed([body.query]))[0]

    def _read(session: Session) -> Any:
        owners = [] if body.agent_id else agents.ids_with_embedding(session, config["handle"])
        return recall.search(
            session,
            rt.message_vectors,
            body.agent_id,
            body.query,
            vector,
            roles=SEARCHABLE_ROLES,
            start=start,
            end=end,
            limit=body.limit,
            mode=body.search_mode,
            vector_owners=owners,
        )

    hits = await rt.db.read(_read)
    return [result for hit in hits for result in _results(hit.message)][: body.limit]


def _results(row: t.Message) -> list[dict[str, Any]]:
    """The message's user, assistant or system parts as search results."""
    out = []
    for view in letta_messages(row):
        if view["message_type"] not in _RESULT_TYPES:
            continue
        out.append(
            {
                "message_type": view["message_type"],
                "content": view["content"],
                "message_id": row.id,
                "agent_id": row.agent_id,
                "conversation_id": None,
                "created_at": as_utc(row.created_at).isoformat(),
            }
        )
    return out


@router.get("/v1/messages/{message_id}")
async def retrieve_message(message_id: str, rt: Runtime) -> list[dict[str, Any]]:
    """The Letta messages one stored message shows as (several for one assistant turn)."""

    def _read(session: Session) -> Any:
        row = session.scalar(select(t.Message).where(t.Message.id == message_id))
        if row is None:
            raise NotFound("message", message_id)
        return row

    return letta_messages(await rt.db.read(_read))
