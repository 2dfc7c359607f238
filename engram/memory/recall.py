"""Recall memory search: an agent's whole message history, by keywords and by meaning.

Full text covers every message the moment it commits; embeddings arrive shortly after
from the recall indexer (``runtime/recall_index.py``). Until a message has one it is
found by its words only, so a search never waits for the embedding model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session

from engram.memory import dates
from engram.memory.ranking import KEYWORD_WEIGHT, SearchMode, blend
from engram.store import messages
from engram.store import tables as t
from engram.store.tables import as_utc
from engram.store.vectors import VectorIndex


@dataclass(frozen=True)
class RecallHit:
    message: t.Message
    score: float


def search(
    session: Session,
    index: VectorIndex,
    agent_id: str | None,
    query: str,
    query_vector: list[float] | None,
    *,
    roles: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 10,
    max_seq: int | None = None,
    mode: SearchMode = "hybrid",
    vector_owners: Sequence[str] = (),
    now: datetime | None = None,
    thread: messages.ThreadFilter | None = None,
) -> list[RecallHit]:
    """Best matches first, blending full text and vector rankings by their scores.

    ``agent_id`` None searches every agent's history; its vector half then covers
    ``vector_owners`` (the agents whose embeddings share the query vector's model).
    ``thread`` (with an ``agent_id``) keeps one conversation's messages. Filters apply
    inside each ranking, never to the fused list. A hybrid query naming a
    time (``dates.resolve`` against ``now``, the agent's clock) without a range of its
    own puts the messages of that time first, then the rest; a time named by an event
    ("the day after the move") is placed by the message that tells of the event
    (``_event_range``)."""
    when = None
    if mode == "hybrid" and start is None and end is None:
        clock = now or datetime.now(UTC)
        when = dates.resolve(query, clock) or _event_range(session, agent_id, query, thread, clock)
    ranked = partial(
        _ranked, session, index, agent_id, query_vector, roles, limit, max_seq, mode,
        vector_owners, thread,
    )  # fmt: skip
    if when is None:
        return ranked(query, start, end)
    first = ranked(dates.without(query, when), when.start, when.end - timedelta(microseconds=1))
    seen = {hit.message.seq for hit in first}
    rest = [hit for hit in ranked(query, None, None) if hit.message.seq not in seen]
    return (first + rest)[:limit]


SPOKEN = ("user", "assistant")
"""Where an event is looked for: what was said, not tool results or system notes (a
search result quoting the event carries the time of the search, not of the event)."""


def _event_range(
    session: Session,
    agent_id: str | None,
    query: str,
    thread: messages.ThreadFilter | None,
    now: datetime,
) -> dates.TimeRange | None:
    """The range of an event-relative time in ``query`` ("the week after the move"),
    placed at the message of the same history (and thread) that best matches the
    event's words, or None.

    By keywords only: an event is named by its words, and only the whole query was
    embedded; embedding the event's words too would double the embedding cost of such a
    search. Neither ``roles`` nor ``max_seq`` apply: the event is what the results are
    dated by, not one of them, and may still be in the agent's window."""
    said = dates.event_time(query)
    if said is None:
        return None
    best = messages.search_scored(
        session, agent_id, said.event, roles=SPOKEN, limit=dates.ANCHOR_CANDIDATES, thread=thread
    )
    rows = messages.by_seqs(session, [seq for seq, _ in best])
    found = [
        (as_utc(rows[seq].created_at), rows[seq].search_text or "")
        for seq, _ in best
        if seq in rows
    ]
    return dates.anchored(said, found, now)


def _ranked(
    session: Session,
    index: VectorIndex,
    agent_id: str | None,
    query_vector: list[float] | None,
    roles: Sequence[str] | None,
    limit: int,
    max_seq: int | None,
    mode: SearchMode,
    vector_owners: Sequence[str],
    thread: messages.ThreadFilter | None,
    query: str,
    start: datetime | None,
    end: datetime | None,
) -> list[RecallHit]:
    depth = max(limit * 3, 50)
    nearest: list[tuple[int, float]] = []
    keyword: list[tuple[int, float]] = []
    if mode != "fts" and query_vector is not None:
        owners = [agent_id] if agent_id is not None else list(vector_owners)
        allowed = None
        if agent_id is not None:
            allowed = messages.filtered_seqs(
                session,
                agent_id,
                roles=roles,
                start=start,
                end=end,
                max_seq=max_seq,
                thread=thread,
            )
        elif roles or start or end:
            # Filters across agents: apply them to the vector hits after ranking, deeper.
            depth *= 4
        if allowed is None or allowed:
            nearest = index.nearest(session, owners, query_vector, depth, allowed)
            if agent_id is None and (roles or start or end):
                nearest = _passing(session, nearest, roles, start, end)
    if mode != "vector":
        keyword = messages.search_scored(
            session,
            agent_id,
            query,
            roles=roles,
            start=start,
            end=end,
            limit=depth,
            max_seq=max_seq,
            thread=thread,
        )
    if mode == "hybrid":
        best = blend(
            keyword,
            nearest,
            limit,
            newer_is_larger=True,
            keyword_weight=KEYWORD_WEIGHT,
            by_lead=True,
        )
    else:  # one ranking alone, with its own scores (BM25 or cosine similarity)
        best = (keyword or nearest)[:limit]
    rows = messages.by_seqs(session, [seq for seq, _ in best])
    return [RecallHit(rows[seq], score) for seq, score in best if seq in rows]


def _passing(
    session: Session,
    nearest: list[tuple[int, float]],
    roles: Sequence[str] | None,
    start: datetime | None,
    end: datetime | None,
) -> list[tuple[int, float]]:
    rows = messages.by_seqs(session, [seq for seq, _ in nearest])
    start = as_utc(start) if start else None
    end = as_utc(end) if end else None
    kept = []
    for seq, similarity in nearest:
        row = rows.get(seq)
        if row is None or (roles and row.role not in roles):
            continue
        if (start and row.created_at < start) or (end and row.created_at > end):
            continue
        kept.append((seq, similarity))
    return kept
