"""Core memory blocks: by id (shareable between agents, with an edit history that can be
undone and redone) and an agent's by label; each operation one transaction.

Attaching a block to an agent and detaching it is ``engram.ops.links``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.ops.agents import AgentBundle, BlockSpec, Cursor, bundle
from engram.ops.deps import HasDb
from engram.store import agents, block_history, blocks, identities
from engram.store import tables as t
from engram.store.blocks import BlockFilter as BlockFilter
from engram.store.blocks import check_fits, check_label
from engram.store.pagination import page_of

T = TypeVar("T", t.Agent, t.Block)

BlockEdit = t.BlockHistory  # one entry of a block's history, as list_history returns them


@dataclass(frozen=True)
class BlockChanges:
    """What an update changes: a field left as None keeps the block's value."""

    value: str | None = None
    limit: int | None = None
    label: str | None = None
    description: str | None = None
    read_only: bool | None = None
    hidden: bool | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None


def apply_block_changes(block: t.Block, changes: BlockChanges) -> None:
    """Validate the block as it would be after ``changes``, then apply them."""
    value = changes.value if changes.value is not None else block.value
    limit = changes.limit if changes.limit is not None else block.limit
    label = changes.label if changes.label is not None else block.label
    check_label(label)
    check_fits(label, value, limit)
    block.value, block.limit, block.label = value, limit, label
    for name in ("description", "read_only", "hidden", "tags"):
        if getattr(changes, name) is not None:
            setattr(block, name, getattr(changes, name))
    if changes.metadata is not None:
        block.metadata_ = changes.metadata


def _edit(session: Session, block: t.Block, changes: BlockChanges) -> t.Block:
    """Apply a user's edit, recorded in the block's history."""
    old = block.value
    apply_block_changes(block, changes)
    block_history.record(session, block, old, actor_type="user")
    _check_label_unique(session, block)
    return block


def _check_label_unique(session: Session, block: t.Block) -> None:
    session.flush()
    for agent_id in blocks.agent_ids_of(session, block.id):
        labels = [b.label for b in blocks.for_agent(session, agent_id)]
        if labels.count(block.label) > 1:
            raise InvalidInput(
                "label", f"agent '{agent_id}' already has a block labelled '{block.label}'"
            )


async def create_block(deps: HasDb, spec: BlockSpec) -> t.Block:
    """A new block attached to no agent; InvalidInput when the value exceeds the limit."""
    row = blocks.new_block(**vars(spec))

    def _write(session: Session) -> None:
        session.add(row)

    await deps.db.write(_write)
    return row


async def list_blocks(
    deps: HasDb,
    cursor: Cursor,
    *,
    label: str | None = None,
    identity_id: str | None = None,
    identifier_keys: tuple[str, ...] = (),
    where: BlockFilter = BlockFilter(),
) -> list[t.Block]:
    """Every block (or those labelled ``label``, tied to the identity ``identity_id``, or to
    an identity with one of ``identifier_keys``, and passing ``where``), oldest first unless
    descending. NotFound for an unknown ``identity_id``."""

    def _read(session: Session) -> list[t.Block]:
        if identity_id is not None:
            identities.get(session, identity_id)
        return blocks.list_blocks(
            session,
            label=label,
            identity_id=identity_id,
            identifier_keys=identifier_keys,
            where=where,
            before=cursor.before,
            after=cursor.after,
            limit=cursor.limit,
            descending=cursor.descending,
        )

    return await deps.db.read(_read)


async def retrieve_block(deps: HasDb, block_id: str) -> t.Block:
    return await deps.db.read(lambda session: blocks.get(session, block_id))


async def update_block(deps: HasDb, block_id: str, changes: BlockChanges) -> t.Block:
    """Change the block for every agent holding it; InvalidInput (naming the field) when
    the value would exceed the limit or the new label collides on one of those agents."""
    return await deps.db.write(
        lambda session: _edit(session, blocks.get(session, block_id), changes)
    )


async def delete_block(deps: HasDb, block_id: str) -> None:
    """Delete the block; the agents holding it lose it."""

    def _write(session: Session) -> None:
        session.delete(blocks.get(session, block_id))

    await deps.db.write(_write)


async def list_history(
    deps: HasDb, block_id: str, *, limit: int = 100, newest_first: bool = True
) -> list[t.BlockHistory]:
    """Every change to the block's value, by an agent's tool or through the API."""

    def _read(session: Session) -> list[t.BlockHistory]:
        blocks.get(session, block_id)
        return block_history.entries(session, block_id, limit=limit, newest_first=newest_first)

    return await deps.db.read(_read)


async def undo(deps: HasDb, block_id: str) -> t.Block:
    """Restore the value from before the newest edit still in force; Conflict if none."""
    return await deps.db.write(lambda session: _travel(session, block_id, "undo"))


async def redo(deps: HasDb, block_id: str) -> t.Block:
    """Re-apply the edit undone most recently; Conflict if none, or a newer edit replaced it."""
    return await deps.db.write(lambda session: _travel(session, block_id, "redo"))


def _travel(session: Session, block_id: str, action: Literal["undo", "redo"]) -> t.Block:
    block = blocks.get(session, block_id)
    (block_history.undo if action == "undo" else block_history.redo)(session, block)
    return block


async def list_block_agents(deps: HasDb, block_id: str, cursor: Cursor) -> list[AgentBundle]:
    """The agents holding the block, oldest first unless descending."""

    def _read(session: Session) -> list[AgentBundle]:
        blocks.get(session, block_id)
        holders = [
            agents.get(session, agent_id) for agent_id in blocks.agent_ids_of(session, block_id)
        ]
        holders.sort(key=lambda agent: agent.created_at)
        rows = _page(holders, cursor, kind="agent")
        return [bundle(session, row.id) for row in rows]

    return await deps.db.read(_read)


async def list_agent_blocks(deps: HasDb, agent_id: str, cursor: Cursor) -> list[t.Block]:
    """The agent's core memory blocks, in the order its prompt shows them."""

    def _read(session: Session) -> list[t.Block]:
        agents.get(session, agent_id)
        return _page(blocks.for_agent(session, agent_id), cursor, kind="block")

    return await deps.db.read(_read)


async def retrieve_agent_block(deps: HasDb, agent_id: str, label: str) -> t.Block:
    """The agent's block labelled ``label``; NotFound for an unknown agent or label."""

    def _read(session: Session) -> t.Block:
        agents.get(session, agent_id)
        return blocks.by_label(session, agent_id, label)

    return await deps.db.read(_read)


async def update_agent_block(
    deps: HasDb, agent_id: str, label: str, changes: BlockChanges
) -> t.Block:
    """Change the agent's block labelled ``label`` (for every agent sharing it)."""

    def _write(session: Session) -> t.Block:
        agents.get(session, agent_id)
        return _edit(session, blocks.by_label(session, agent_id, label), changes)

    return await deps.db.write(_write)


def _page(items: list[T], cursor: Cursor, *, kind: str) -> list[T]:
    return page_of(
        items,
        before=cursor.before,
        after=cursor.after,
        limit=cursor.limit,
        descending=cursor.descending,
        kind=kind,
    )
