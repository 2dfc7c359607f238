"""Memory changes made from outside the agent (the API), each one transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import InvalidInput
from engram.memory import archival
from engram.runtime.engine import Engram
from engram.store import agents, blocks, passages
from engram.store import tables as t
from engram.store.blocks import check_fits
from engram.store.tables import as_utc


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


async def modify_block(rt: Engram, block_id: str, changes: dict[str, Any]) -> t.Block:
    async with rt.db.write() as session:
        block = await blocks.get(session, block_id)
        apply_block_changes(block, changes)
        await _check_label_unique(session, block)
        return block


async def modify_agent_block(
    rt: Engram, agent_id: str, label: str, changes: dict[str, Any]
) -> t.Block:
    async with rt.db.write() as session:
        await agents.get(session, agent_id)
        block = await blocks.by_label(session, agent_id, label)
        apply_block_changes(block, changes)
        await _check_label_unique(session, block)
        return block


async def _check_label_unique(session: AsyncSession, block: t.Block) -> None:
    await session.flush()
    for agent_id in await blocks.agent_ids_of(session, block.id):
        labels = [b.label for b in await blocks.for_agent(session, agent_id)]
        if labels.count(block.label) > 1:
            raise InvalidInput(
                "label", f"agent '{agent_id}' already has a block labelled '{block.label}'"
            )


async def insert_passage(
    rt: Engram, agent_id: str, text: str, tags: list[str] | None, created_at: str | None
) -> t.Passage:
    when = None
    if created_at:
        try:
            when = as_utc(datetime.fromisoformat(created_at)).astimezone(UTC)
        except ValueError as exc:
            raise InvalidInput("created_at", f"not an ISO 8601 time: '{created_at}'") from exc
    async with rt.db.read() as session:
        agent = await agents.get(session, agent_id)
    embedder = rt.embeddings.embedder_for(agent.embedding_config)
    vector = await archival.embed_one(embedder, text)
    async with rt.db.write() as session:
        await agents.get(session, agent_id)
        row = passages.new_passage(
            agent_id=agent_id,
            text_=text,
            embedding=vector,
            embedding_handle=embedder.handle,
            tags=tags,
            created_at=when,
        )
        session.add(row)
    return row


async def search_passages(
    rt: Engram,
    agent_id: str,
    query: str,
    *,
    tags: list[str] | None,
    match_all: bool,
    top_k: int,
    start: datetime | None,
    end: datetime | None,
) -> tuple[t.Agent, list[archival.Hit]]:
    async with rt.db.read() as session:
        agent = await agents.get(session, agent_id)
    embedder = rt.embeddings.embedder_for(agent.embedding_config)
    vector = await archival.embed_one(embedder, query)
    async with rt.db.read() as session:
        hits = await archival.search(
            session,
            rt.vectors,
            agent_id,
            query,
            vector,
            top_k=top_k,
            tags=tags,
            match_all_tags=match_all,
            start=start,
            end=end,
        )
    return agent, hits
