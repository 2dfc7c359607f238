"""The edit log of core memory blocks, and the undo/redo stack it implies.

Undo takes back the newest edit still in force; redo re-applies the edit undone most
recently, as long as no new edit came after it (a new edit clears the redo stack).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engram.errors import Conflict
from engram.store import tables as t
from engram.store.blocks import check_fits


def record(
    session: Session,
    block: t.Block,
    old_value: str,
    *,
    actor_type: str,
    actor_id: str | None = None,
    run_id: str | None = None,
    step_id: str | None = None,
    action: str = "edit",
) -> None:
    """Log a change of ``block.value`` from ``old_value``; no row when nothing changed."""
    if old_value == block.value and action == "edit":
        return
    session.add(
        t.BlockHistory(
            block_id=block.id,
            action=action,
            old_value=old_value,
            new_value=block.value,
            actor_type=actor_type,
            actor_id=actor_id,
            run_id=run_id,
            step_id=step_id,
        )
    )


def entries(
    session: Session, block_id: str, *, limit: int, newest_first: bool
) -> list[t.BlockHistory]:
    order = t.BlockHistory.seq.desc() if newest_first else t.BlockHistory.seq
    rows = session.scalars(
        select(t.BlockHistory)
        .where(t.BlockHistory.block_id == block_id)
        .order_by(order)
        .limit(limit)
    )
    return list(rows)


def undo(session: Session, block: t.Block) -> t.BlockHistory:
    """Restore the value from before the newest edit still in force."""
    target = session.scalar(
        select(t.BlockHistory)
        .where(
            t.BlockHistory.block_id == block.id,
            t.BlockHistory.action == "edit",
            t.BlockHistory.undone.is_(False),
        )
        .order_by(t.BlockHistory.seq.desc())
        .limit(1)
    )
    if target is None:
        raise Conflict(f"block '{block.id}' has no edit to undo")
    _apply(session, block, target.old_value, "undo")
    target.undone = True
    return target


def redo(session: Session, block: t.Block) -> t.BlockHistory:
    """Re-apply the edit undone most recently, unless a newer edit replaced it."""
    latest_live = session.scalar(
        select(func.max(t.BlockHistory.seq)).where(
            t.BlockHistory.block_id == block.id,
            t.BlockHistory.action == "edit",
            t.BlockHistory.undone.is_(False),
        )
    )
    target = session.scalar(
        select(t.BlockHistory)
        .where(
            t.BlockHistory.block_id == block.id,
            t.BlockHistory.action == "edit",
            t.BlockHistory.undone.is_(True),
            t.BlockHistory.seq > (latest_live or 0),
        )
        .order_by(t.BlockHistory.seq)
        .limit(1)
    )
    if target is None:
        raise Conflict(f"block '{block.id}' has no undone edit to redo")
    _apply(session, block, target.new_value, "redo")
    target.undone = False
    return target


def _apply(session: Session, block: t.Block, value: str, action: str) -> None:
    check_fits(block.label, value, block.limit)
    old = block.value
    block.value = value
    record(session, block, old, actor_type="user", action=action)
