"""Agent rows, their tags, and the lookups the API lists by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Select, delete, func, literal, select, tuple_
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.store import identities
from engram.store import tables as t
from engram.store.pagination import apply_cursor
from engram.store.tables import UTCDateTime


def get(session: Session, agent_id: str) -> t.Agent:
    agent = session.get(t.Agent, agent_id)
    if agent is None:
        raise NotFound("agent", agent_id)
    return agent


def tags_of(session: Session, agent_id: str) -> list[str]:
    rows = session.scalars(
        select(t.AgentTag.tag).where(t.AgentTag.agent_id == agent_id).order_by(t.AgentTag.tag)
    )
    return list(rows)


def set_tags(session: Session, agent_id: str, tags: list[str]) -> None:
    session.execute(delete(t.AgentTag).where(t.AgentTag.agent_id == agent_id))
    for tag in dict.fromkeys(tags):
        session.add(t.AgentTag(agent_id=agent_id, tag=tag))


@dataclass(frozen=True)
class AgentFilter:
    """What the agent list and count endpoints filter by."""

    name: str | None = None
    tags: tuple[str, ...] = ()
    match_all_tags: bool = False
    query_text: str | None = None
    # Only agents tied to this identity / to an identity with one of these keys.
    identity_id: str | None = None
    identifier_keys: tuple[str, ...] = ()
    # Only agents whose last run ended with this stop reason.
    last_stop_reason: str | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        owned = identities.agents_of(self.identity_id, self.identifier_keys)
        if owned is not None:
            query = query.where(t.Agent.id.in_(owned))
        if self.last_stop_reason is not None:
            query = query.where(t.Agent.last_stop_reason == self.last_stop_reason)
        if self.name is not None:
            query = query.where(t.Agent.name == self.name)
        if self.query_text:
            # autoescape: '%' and '_' in the text are matched as themselves, not as wildcards.
            query = query.where(t.Agent.name.icontains(self.query_text, autoescape=True))
        if self.tags:
            tagged = select(t.AgentTag.agent_id).where(t.AgentTag.tag.in_(self.tags))
            if self.match_all_tags:
                tagged = tagged.group_by(t.AgentTag.agent_id).having(
                    func.count(func.distinct(t.AgentTag.tag)) == len(set(self.tags))
                )
            query = query.where(t.Agent.id.in_(tagged))
        return query


AgentOrder = Literal["created_at", "updated_at", "last_run_completion"]

# Agents that never finished a run sort as if they had before any that did.
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def list_agents(
    session: Session,
    where: AgentFilter,
    *,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
    order_by: AgentOrder = "created_at",
) -> list[t.Agent]:
    if order_by == "last_run_completion":
        return _by_last_run(session, where, before, after, limit, descending)
    query = apply_cursor(
        session,
        where.apply(select(t.Agent)),
        model=t.Agent,
        order_column=t.Agent.updated_at if order_by == "updated_at" else t.Agent.created_at,
        kind="agent",
        before=before,
        after=after,
        limit=limit,
        descending=descending,
    )
    return list(session.scalars(query))


def _by_last_run(
    session: Session,
    where: AgentFilter,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
) -> list[t.Agent]:
    """Ordered by when each agent's last run ended (never-run agents as the oldest), ties by
    creation then id, so a cursor on an agent that never ran still pages on exactly."""
    ended = func.coalesce(t.Agent.last_run_completion, literal(_NEVER, UTCDateTime()))
    key = tuple_(ended, t.Agent.created_at, t.Agent.id)
    query = where.apply(select(t.Agent))
    for cursor, is_before in ((before, True), (after, False)):
        if cursor is None:
            continue
        anchor = session.get(t.Agent, cursor)
        if anchor is None:
            raise NotFound("agent", cursor)
        mark = tuple_(
            literal(anchor.last_run_completion or _NEVER, UTCDateTime()),
            literal(anchor.created_at, UTCDateTime()),
            literal(anchor.id),
        )
        earlier = is_before != descending
        query = query.where(key < mark if earlier else key > mark)
    columns = (ended, t.Agent.created_at, t.Agent.id)
    query = query.order_by(*(c.desc() if descending else c.asc() for c in columns))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def count_agents(session: Session, where: AgentFilter) -> int:
    return int(session.scalar(where.apply(select(func.count()).select_from(t.Agent))) or 0)


def all_tags(session: Session) -> list[str]:
    rows = session.scalars(select(t.AgentTag.tag).distinct().order_by(t.AgentTag.tag))
    return list(rows)


def ids_with_embedding(session: Session, handle: str) -> list[str]:
    """Agents whose memory is embedded with ``handle`` (their vectors compare with its)."""
    rows = session.execute(select(t.Agent.id, t.Agent.embedding_config)).all()
    return [agent_id for agent_id, config in rows if (config or {}).get("handle") == handle]
