"""Core memory blocks: an agent's by label, and blocks by id (shareable between agents)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from engram.api import rendering, serialize
from engram.api.deps import Cursor, Limit, Runtime
from engram.api.schemas import BlockUpdate, CreateBlock
from engram.ops import agents as agent_ops
from engram.runtime import memory_ops
from engram.store import agents, block_history, blocks
from engram.store import tables as t

router = APIRouter(tags=["memory"])


@router.get("/v1/agents/{agent_id}/core-memory/blocks", response_model=list[dict[str, Any]])
async def list_agent_blocks(
    agent_id: str,
    rt: Runtime,
    cursor: Cursor,
) -> Response:
    def _read(session: Session) -> Any:
        agents.get(session, agent_id)
        rows = cursor.page(blocks.for_agent(session, agent_id), kind="block")
        return [serialize.block(b) for b in rows]

    return rendering.json_list(await rt.db.read(_read), "block")


@router.get("/v1/agents/{agent_id}/core-memory/blocks/{label}")
async def retrieve_agent_block(agent_id: str, label: str, rt: Runtime) -> dict[str, Any]:
    def _read(session: Session) -> Any:
        agents.get(session, agent_id)
        return serialize.block(blocks.by_label(session, agent_id, label))

    return await rt.db.read(_read)


@router.patch("/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}")
async def attach_block(agent_id: str, block_id: str, rt: Runtime) -> dict[str, Any]:
    def _write(session: Session) -> Any:
        agents.get(session, agent_id)
        blocks.attach(session, agent_id, blocks.get(session, block_id))
        session.flush()
        return serialize.agent(agent_ops.bundle(session, agent_id))

    return await rt.db.write(_write)


@router.patch("/v1/agents/{agent_id}/core-memory/blocks/detach/{block_id}")
async def detach_block(agent_id: str, block_id: str, rt: Runtime) -> dict[str, Any]:
    def _write(session: Session) -> Any:
        agents.get(session, agent_id)
        blocks.get(session, block_id)
        blocks.detach(session, agent_id, block_id)
        return serialize.agent(agent_ops.bundle(session, agent_id))

    return await rt.db.write(_write)


@router.patch("/v1/agents/{agent_id}/core-memory/blocks/{label}")
async def modify_agent_block(
    agent_id: str, label: str, body: BlockUpdate, rt: Runtime
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return serialize.block(await memory_ops.modify_agent_block(rt, agent_id, label, changes))


@router.post("/v1/blocks/")
async def create_block(body: CreateBlock, rt: Runtime) -> dict[str, Any]:
    row = blocks.new_block(**body.model_dump())

    def _write(session: Session) -> Any:
        session.add(row)

    await rt.db.write(_write)
    return serialize.block(row)


@router.get("/v1/blocks/", response_model=list[dict[str, Any]])
async def list_blocks(
    rt: Runtime,
    label: str | None = None,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Literal["asc", "desc"] = "asc",
) -> Response:
    def _read(session: Session) -> Any:
        rows = blocks.list_blocks(
            session,
            label=label,
            before=before,
            after=after,
            limit=limit,
            descending=order == "desc",
        )
        return [serialize.block(b) for b in rows]

    return rendering.json_list(await rt.db.read(_read), "block")


@router.get("/v1/blocks/{block_id}")
async def retrieve_block(block_id: str, rt: Runtime) -> dict[str, Any]:
    def _read(session: Session) -> Any:
        return serialize.block(blocks.get(session, block_id))

    return await rt.db.read(_read)


@router.patch("/v1/blocks/{block_id}")
async def modify_block(block_id: str, body: BlockUpdate, rt: Runtime) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return serialize.block(await memory_ops.modify_block(rt, block_id, changes))


@router.delete("/v1/blocks/{block_id}")
async def delete_block(block_id: str, rt: Runtime) -> dict[str, str]:
    def _write(session: Session) -> Any:
        session.delete(blocks.get(session, block_id))

    await rt.db.write(_write)
    return {"message": f"block '{block_id}' deleted"}


def _history_entry(row: t.BlockHistory) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "block_id": row.block_id,
        "action": row.action,
        "old_value": row.old_value,
        "new_value": row.new_value,
        "actor_type": row.actor_type,
        "actor_id": row.actor_id,
        "run_id": row.run_id,
        "step_id": row.step_id,
        "undone": row.undone,
        "created_at": row.created_at.isoformat(),
    }


@router.get("/v1/blocks/{block_id}/history")
async def block_history_list(
    block_id: str,
    rt: Runtime,
    limit: Limit = 100,
    order: Literal["asc", "desc"] = "desc",
) -> list[dict[str, Any]]:
    """Every change to the block's value, by an agent's tool or through the API."""

    def _read(session: Session) -> list[dict[str, Any]]:
        blocks.get(session, block_id)
        rows = block_history.entries(
            session, block_id, limit=limit or 100, newest_first=order == "desc"
        )
        return [_history_entry(row) for row in rows]

    return await rt.db.read(_read)


@router.post("/v1/blocks/{block_id}/undo")
async def undo_block_edit(block_id: str, rt: Runtime) -> dict[str, Any]:
    """Restore the value from before the newest edit still in force (409 if none)."""
    return serialize.block(await memory_ops.undo_or_redo(rt, block_id, "undo"))


@router.post("/v1/blocks/{block_id}/redo")
async def redo_block_edit(block_id: str, rt: Runtime) -> dict[str, Any]:
    """Re-apply the edit undone most recently, unless a newer edit replaced it (409 if none)."""
    return serialize.block(await memory_ops.undo_or_redo(rt, block_id, "redo"))


@router.get("/v1/blocks/{block_id}/agents")
async def list_block_agents(
    block_id: str,
    rt: Runtime,
    cursor: Cursor,
) -> list[dict[str, Any]]:
    def _read(session: Session) -> Any:
        blocks.get(session, block_id)
        holders = [
            agents.get(session, agent_id) for agent_id in blocks.agent_ids_of(session, block_id)
        ]
        holders.sort(key=lambda agent: agent.created_at)
        rows = cursor.page(holders, kind="agent")
        return [serialize.agent(agent_ops.bundle(session, row.id)) for row in rows]

    return await rt.db.read(_read)
