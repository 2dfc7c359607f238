"""Engram's own recall-memory endpoints: the indexer's progress, and deleting a message.

Neither exists in Letta's API; both sit under the agent, beside its messages."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from engram.api.deps import Runtime
from engram.ops import messages as message_ops

router = APIRouter(prefix="/v1/agents/{agent_id}", tags=["messages"])


@router.get("/recall-index")
async def recall_index_status(agent_id: str, rt: Runtime) -> dict[str, Any]:
    """How many of the agent's messages can already be found by meaning."""
    return asdict(await message_ops.recall_index_status(rt, agent_id))


@router.delete("/messages/{message_id}")
async def delete_message(agent_id: str, message_id: str, rt: Runtime) -> dict[str, Any]:
    deleted = await message_ops.delete(rt, agent_id, message_id)
    return {
        "deleted_message_ids": deleted.message_ids,
        "passages_marked_source_deleted": deleted.passages_marked,
    }
