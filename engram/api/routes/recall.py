"""Engram's own recall-memory endpoints: the indexer's progress, and deleting a message.

Neither exists in Letta's API; both sit under the agent, beside its messages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from engram.api.deps import Runtime
from engram.runtime import message_ops, recall_index
from engram.store import agents

router = APIRouter(prefix="/v1/agents/{agent_id}", tags=["messages"])


@router.get("/recall-index")
async def recall_index_status(agent_id: str, rt: Runtime) -> dict[str, Any]:
    """How many of the agent's messages can already be found by meaning."""

    def _read(session: Session) -> Any:
        agent = agents.get(session, agent_id)
        return agent.embedding_config.get("handle"), recall_index.status(session, agent_id)

    handle, status = await rt.db.read(_read)
    return {
        "agent_id": agent_id,
        "embedding": handle,
        "messages": status.messages,
        "embedded": status.embedded,
        "pending": status.pending,
        "enabled": rt.settings.recall_embeddings,
    }


@router.delete("/messages/{message_id}")
async def delete_message(agent_id: str, message_id: str, rt: Runtime) -> dict[str, Any]:
    deleted = await message_ops.delete_message(rt, agent_id, message_id)
    return {
        "deleted_message_ids": deleted.message_ids,
        "passages_marked_source_deleted": deleted.passages_marked,
    }
