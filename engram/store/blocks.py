"""Core memory blocks and their attachment to agents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, TextClause, delete, false, func, select, text
from sqlalchemy.orm import Session

from engram.block_labels import label_problem
from engram.errors import BlockTooLong, Conflict, InvalidInput, NotFound
from engram.ids import new_id
from engram.store import dialects, identities
from engram.store import tables as t
from engram.store.dialects import SearchDialect
from engram.store.pagination import apply_cursor

# Letta's default for a block created without a limit, whatever its label.
DEFAULT_LIMIT = 100_000
# The largest limit a block row stores (a 32-bit column); Letta sets no upper bound.
MAX_LIMIT = 2_147_483_647


def default_limit(label: str) -> int:
    """The limit a block labelled ``label`` gets when none is given: the same for every
    label, as in Letta (kept a function so a per-label default stays a one-line change)."""
    return DEFAULT_LIMIT


def check_fits(label: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise BlockTooLong(label, len(value), limit)


def check_label(label: str) -> None:
    """The label rules of engram/block_labels.py, for callers that did not go through a
    validated request body."""
    problem = label_problem(label)
    if problem is not None:
        raise InvalidInput("label", problem)


def new_block(
    *,
    label: str,
    value: str,
    limit: int | None = None,
    description: str | None = None,
    read_only: bool = False,
    hidden: bool | None = None,
    metadata: dict[str, Any] | None = None,
    tags: list[str] | None = None,
) -> t.Block:
    check_label(label)
    limit = limit if limit is not None else default_limit(label)
    if not 0 < limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    check_fits(label, value, limit)
    return t.Block(
        id=new_id("block"),
        label=label,
        value=value,
        limit=limit,
        description=description,
        read_only=read_only,
        hidden=hidden,
        metadata_=metadata or {},
        tags=tags or [],
    )


def get(session: Session, block_id: str) -> t.Block:
    block = session.get(t.Block, block_id)
    if block is None:
        raise NotFound("block", block_id)
    return block


def for_agent(session: Session, agent_id: str) -> list[t.Block]:
    rows = session.scalars(
        select(t.Block)
        .join(t.AgentBlock, t.AgentBlock.block_id == t.Block.id)
        .where(t.AgentBlock.agent_id == agent_id)
        .order_by(t.AgentBlock.position, t.Block.created_at)
    )
    return list(rows)


def by_label(session: Session, agent_id: str, label: str) -> t.Block:
    for block in for_agent(session, agent_id):
        if block.label == label:
            return block
    raise NotFound("block", f"{label}' of agent '{agent_id}")


def attach(session: Session, agent_id: str, block: t.Block) -> None:
    current = for_agent(session, agent_id)
    if any(existing.id == block.id for existing in current):
        return
    if any(existing.label == block.label for existing in current):
        raise Conflict(f"agent '{agent_id}' already has a block labelled '{block.label}'")
    session.add(t.AgentBlock(agent_id=agent_id, block_id=block.id, position=len(current)))


def detach(session: Session, agent_id: str, block_id: str) -> None:
    session.execute(
        delete(t.AgentBlock).where(
            t.AgentBlock.agent_id == agent_id, t.AgentBlock.block_id == block_id
        )
    )


def agent_ids_of(session: Session, block_id: str) -> list[str]:
    rows = session.scalars(select(t.AgentBlock.agent_id).where(t.AgentBlock.block_id == block_id))
    return list(rows)


def delete_unshared_of_agent(session: Session, agent_id: str) -> None:
    """Delete the agent's blocks that no other agent uses; shared ones stay."""
    mine = select(t.AgentBlock.block_id).where(t.AgentBlock.agent_id == agent_id)
    shared = (
        select(t.AgentBlock.block_id)
        .where(t.AgentBlock.block_id.in_(mine), t.AgentBlock.agent_id != agent_id)
        .distinct()
    )
    session.execute(delete(t.Block).where(t.Block.id.in_(mine), t.Block.id.not_in(shared)))


@dataclass(frozen=True)
class BlockFilter:
    """What ``GET /v1/blocks/`` narrows the listing by, besides label and identity.

    The ``*_search`` fields match case-insensitively anywhere in the column; ``tags`` match
    any (or with ``match_all_tags`` every) tag; the agent counts bound how many agents hold
    the block. Engram has no templates, so ``name`` (a template's name in Letta) and
    ``templates_only`` match no block."""

    name: str | None = None
    templates_only: bool = False
    tags: tuple[str, ...] = ()
    match_all_tags: bool = False
    label_search: str | None = None
    description_search: str | None = None
    value_search: str | None = None
    agents_more_than: int | None = None
    agents_fewer_than: int | None = None
    agents_exactly: tuple[int, ...] = ()

    def apply(self, query: Select[Any], dialect: SearchDialect) -> Select[Any]:
        if self.name is not None or self.templates_only:
            return query.where(false())
        for column, needle in (
            (t.Block.label, self.label_search),
            (t.Block.description, self.description_search),
            (t.Block.value, self.value_search),
        ):
            if needle is not None:
                query = query.where(func.lower(column).contains(needle.lower(), autoescape=True))
        if self.tags:
            query = query.where(self._tagged(dialect))
        return self._by_agent_count(query)

    def _tagged(self, dialect: SearchDialect) -> TextClause:
        names = [f"block_tag{i}" for i in range(len(self.tags))]
        wanted = ", ".join(":" + name for name in names)
        needed = len(set(self.tags)) if self.match_all_tags else 1
        matched = (
            "SELECT count(DISTINCT bt.value) FROM "
            + dialect.json_elements("blocks.tags", "bt")
            + f" WHERE bt.value IN ({wanted})"
        )
        return text(f"({matched}) >= {needed}").bindparams(
            **dict(zip(names, self.tags, strict=True))
        )

    def _by_agent_count(self, query: Select[Any]) -> Select[Any]:
        bounds = (self.agents_more_than, self.agents_fewer_than)
        if bounds == (None, None) and not self.agents_exactly:
            return query
        held = (
            select(func.count())
            .select_from(t.AgentBlock)
            .where(t.AgentBlock.block_id == t.Block.id)
            .correlate(t.Block)
            .scalar_subquery()
        )
        if self.agents_more_than is not None:
            query = query.where(held > self.agents_more_than)
        if self.agents_fewer_than is not None:
            query = query.where(held < self.agents_fewer_than)
        if self.agents_exactly:
            query = query.where(held.in_(self.agents_exactly))
        return query


def list_blocks(
    session: Session,
    *,
    label: str | None,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
    identity_id: str | None = None,
    identifier_keys: tuple[str, ...] = (),
    where: BlockFilter = BlockFilter(),
) -> list[t.Block]:
    query = select(t.Block)
    if label is not None:
        query = query.where(t.Block.label == label)
    owned = identities.blocks_of(identity_id, identifier_keys)
    if owned is not None:
        query = query.where(t.Block.id.in_(owned))
    query = where.apply(query, dialects.for_session(session))
    query = apply_cursor(
        session,
        query,
        model=t.Block,
        order_column=t.Block.created_at,
        kind="block",
        before=before,
        after=after,
        limit=limit,
        descending=descending,
    )
    return list(session.scalars(query))


def count_agents(session: Session, block_id: str) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(t.AgentBlock).where(t.AgentBlock.block_id == block_id)
        )
        or 0
    )
