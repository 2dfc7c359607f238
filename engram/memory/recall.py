"""Recall memory search: an agent's whole message history, by keywords and by meaning.

Full text covers every message the moment it commits; embeddings arrive shortly after
from the recall indexer (``runtime/recall_index.py``). Until a message has one it is
found by its words only, so a search never waits for the embedding model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from engram.memory.ranking import SearchMode, fuse, strong_matches
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
    thread: messages.ThreadFilter | None = None,
) -> list[RecallHit]:
    """Best matches first, fusing full text and vector rankings by reciprocal rank.

    ``agent_id`` None searches every agent's history; its vector half then covers
    ``vector_owners`` (the agents whose embeddings share the query vector's model).
    ``thread`` (with an ``agent_id``) keeps one conversation's messages. Filters apply
    inside each ranking, never to the fused list."""
    depth = max(limit * 3, 50)
    rankings: list[list[int]] = []
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
            ranked = strong_matches(nearest) if mode == "hybrid" else [s for s, _ in nearest]
            if agent_id is None and (roles or start or end):
                ranked = _passing(session, ranked, roles, start, end)
            rankings.append(ranked)
    if mode != "vector":
        found = messages.search(
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
        ranked = [row.seq for row in found]
        if mode == "hybrid":
            ranked = messages.well_covered(session, "messages_fts", ranked, query)
        rankings.append(ranked)
    best = fuse(rankings, limit, newer_is_larger=True)
    rows = messages.by_seqs(session, [seq for seq, _ in best])
    return [RecallHit(rows[seq], score) for seq, score in best if seq in rows]


def _passing(
    session: Session,
    seqs: list[int],
    roles: Sequence[str] | None,
    start: datetime | None,
    end: datetime | None,
) -> list[int]:
    rows = messages.by_seqs(session, seqs)
    start = as_utc(start) if start else None
    end = as_utc(end) if end else None
    kept = []
    for seq in seqs:
        row = rows.get(seq)
        if row is None or (roles and row.role not in roles):
            continue
        if (start and row.created_at < start) or (end and row.created_at > end):
            continue
        kept.append(seq)
    return kept
