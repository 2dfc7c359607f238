"""Message history: appended, never rewritten; searched by full text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.store import dialects
from engram.store import tables as t
from engram.store.keyword_scores import bm25_ranked


def in_context(session: Session, agent: t.Agent) -> list[t.Message]:
    """The agent's window: every message after its eviction cursor, oldest first."""
    rows = session.scalars(
        select(t.Message)
        .where(t.Message.agent_id == agent.id, t.Message.seq > agent.window_start_seq)
        .order_by(t.Message.seq)
    )
    return list(rows)


def count_query(agent_id: str) -> Select[int]:
    return select(func.count()).select_from(t.Message).where(t.Message.agent_id == agent_id)


def count(session: Session, agent_id: str) -> int:
    return int(session.scalar(count_query(agent_id)) or 0)


def last_seq(session: Session, agent_id: str) -> int:
    return int(
        session.scalar(select(func.max(t.Message.seq)).where(t.Message.agent_id == agent_id)) or 0
    )


def list_messages(
    session: Session,
    agent_id: str,
    *,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
    where: ColumnElement[bool] | None = None,
) -> list[t.Message]:
    """A page of the agent's history; ``where`` narrows it (to one conversation)."""
    query = select(t.Message).where(t.Message.agent_id == agent_id)
    if where is not None:
        query = query.where(where)
    for cursor, is_before in ((before, True), (after, False)):
        if cursor is None:
            continue
        anchor = session.scalar(
            select(t.Message.seq).where(t.Message.id == cursor, t.Message.agent_id == agent_id)
        )
        if anchor is None:
            raise NotFound("message", cursor)
        # Cursors are relative to the listing's order, as the SDK's auto-pagination expects:
        # in a newest-first listing, "after" a message means older than it.
        earlier = is_before != descending
        query = query.where(t.Message.seq < anchor if earlier else t.Message.seq > anchor)
    query = query.order_by(t.Message.seq.desc() if descending else t.Message.seq)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def for_run(session: Session, run_id: str) -> list[t.Message]:
    rows = session.scalars(
        select(t.Message).where(t.Message.run_id == run_id).order_by(t.Message.seq)
    )
    return list(rows)


# Words too common to say anything about a match; dropped from keyword queries unless the
# query is made of nothing else.
# fmt: off
STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did",
    "do", "does", "for", "from", "had", "has", "have", "he", "her", "hers", "him", "his",
    "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on",
    "or", "our", "ours", "she", "so", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "to", "was", "we", "were", "what", "when",
    "where", "which", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
})
# fmt: on


def query_terms(query: str) -> list[str]:
    """The words of a query that say something: stop words go unless nothing else is left."""
    terms = list(dict.fromkeys(re.findall(r"\w+", query.lower())))
    meaningful = [term for term in terms if term not in STOP_WORDS]
    return meaningful or terms


@dataclass(frozen=True)
class ThreadFilter:
    """Only one thread's messages: a conversation's, or (None) the agent's default one."""

    conversation_id: str | None


def search_scored(
    session: Session,
    agent_id: str | None,
    query: str,
    *,
    roles: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 10,
    max_seq: int | None = None,
    thread: ThreadFilter | None = None,
) -> list[tuple[int, float]]:
    """Full-text search over the agent's whole history (every agent's if None), best first,
    as (seq, BM25) pairs scored with the statistics of that history; ``max_seq`` leaves
    out the messages after it (those still in the agent's window), ``thread`` keeps one
    thread's."""
    terms = query_terms(query)
    if not terms:
        return []
    dialect = dialects.for_session(session)
    clauses: list[str] = []
    params: dict[str, object] = {}
    if agent_id is not None:
        clauses.append("messages.agent_id = :agent")
        params["agent"] = agent_id
    if max_seq is not None:
        clauses.append("messages.seq <= :max_seq")
        params["max_seq"] = max_seq
    if roles:
        names = [f"role{i}" for i in range(len(roles))]
        clauses.append(f"messages.role IN ({', '.join(':' + n for n in names)})")
        params.update(zip(names, roles, strict=True))
    if start is not None:
        clauses.append("messages.created_at >= :start")
        params["start"] = dialect.moment(start)
    if end is not None:
        clauses.append("messages.created_at <= :end")
        params["end"] = dialect.moment(end)
    if thread is not None and thread.conversation_id is None:
        clauses.append("messages.conversation_id IS NULL")
    elif thread is not None:
        clauses.append("messages.conversation_id = :conversation")
        params["conversation"] = thread.conversation_id
    return bm25_ranked(session, "messages", terms, clauses, params, limit)


def filtered_seqs(
    session: Session,
    agent_id: str,
    *,
    roles: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    max_seq: int | None = None,
    thread: ThreadFilter | None = None,
) -> set[int] | None:
    """The seqs of the agent's messages passing the filters; None when there are none."""
    query = select(t.Message.seq).where(t.Message.agent_id == agent_id)
    active = False
    if thread is not None:
        column = t.Message.conversation_id
        only = (
            column.is_(None) if thread.conversation_id is None else column == thread.conversation_id
        )
        query, active = query.where(only), True
    if roles:
        query, active = query.where(t.Message.role.in_(list(roles))), True
    if start is not None:
        query, active = query.where(t.Message.created_at >= start), True
    if end is not None:
        query, active = query.where(t.Message.created_at <= end), True
    if max_seq is not None:
        query, active = query.where(t.Message.seq <= max_seq), True
    return set(session.scalars(query)) if active else None


def by_seqs(session: Session, seqs: Sequence[int]) -> dict[int, t.Message]:
    if not seqs:
        return {}
    return {
        row.seq: row for row in session.scalars(select(t.Message).where(t.Message.seq.in_(seqs)))
    }


def list_all(
    session: Session,
    *,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
) -> list[t.Message]:
    """Every agent's messages in the order they were stored (``seq`` is one sequence over
    all agents); cursors are message ids, relative to the listing's order."""
    query = select(t.Message)
    for cursor, is_before in ((before, True), (after, False)):
        if cursor is None:
            continue
        anchor = session.scalar(select(t.Message.seq).where(t.Message.id == cursor))
        if anchor is None:
            raise NotFound("message", cursor)
        earlier = is_before != descending
        query = query.where(t.Message.seq < anchor if earlier else t.Message.seq > anchor)
    query = query.order_by(t.Message.seq.desc() if descending else t.Message.seq)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
