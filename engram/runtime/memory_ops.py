"""Memory changes made from outside the agent (the API), each one transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.runtime.engine import Services
from engram.store import agents, block_history, blocks
from engram.store import tables as t
from engram.store.blocks import check_fits


def apply_block_changes(block: t.Block, changes: dict[str, Any]) -> None:
    """Validate the block as it would be after ``changes``, then apply them."""
    value = changes.get("value") if changes.get("value") is not None else block.value
    limit = changes.get("limit") if changes.get("limit") is not None else block.limit
    label = changes.get("label") if changes.get("label") is not None else block.label
    check_fits(label, value, limit)
    block.value, block.limit, block.label = value, limit, label
    for name in ("description", "read_only", "hidden", "tags"):
        if changes.get(name) is not None:
            setattr(block, name, changes[name])
    if changes.get("metadata") is not None:
        block.metadata_ = changes["metadata"]


async def modify_block(rt: Services, block_id: str, changes: dict[str, Any]) -> t.Block:
    def _write(session: Session) -> Any:
        block = blocks.get(session, block_id)
        old = block.value
        apply_block_changes(block, changes)
        block_history.record(session, block, old, actor_type="user")
        _check_label_unique(session, block)
        return block

    return await rt.db.write(_write)


async def modify_agent_block(
    rt: Services, agent_id: str, label: str, changes: dict[str, Any]
) -> t.Block:
    def _write(session: Session) -> Any:
        agents.get(session, agent_id)
        block = blocks.by_label(session, agent_id, label)
        old = block.value
        apply_block_changes(block, changes)
        block_history.record(session, block, old, actor_type="user")
        _check_label_unique(session, block)
        return block

    return await rt.db.write(_write)


def _check_label_unique(session: Session, block: t.Block) -> None:
    session.flush()
    for agent_id in blocks.agent_ids_of(session, block.id):
        labels = [b.label for b in blocks.for_agent(session, agent_id)]
        if labels.count(block.label) > 1:
            raise InvalidInput(
                "label", f"agent '{agent_id}' already has a block labelled '{block.label}'"
            )


async def undo_or_redo(rt: Services, block_id: str, action: str) -> t.Block:
    def _write(session: Session) -> t.Block:
        block = blocks.get(session, block_id)
        (block_history.undo if action == "undo" else block_history.redo)(session, block)
        return block

    return await rt.db.write(_write)
