"""Archival memory: passages written and searched by meaning and by keyword.

An agent searches its own passages and those of the archives attached to it; the scope is
applied inside each ranking (vector matrices per owner, an SQL clause for full text), never
as a filter on results, so a small archive is searched as thoroughly as a large one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from engram.memory.embeddings import Embedder
from engram.store import passages
from engram.store import tables as t
from engram.store.passages import Scope
from engram.store.vectors import VectorIndex

# Reciprocal-rank fusion constant: ranks deep in one list still count, but the head dominates.
RRF_K = 60


@dataclass(frozen=True)
class Hit:
    passage: t.Passage
    score: float


def search(
    session: Session,
    index: VectorIndex,
    agent_id: str,
    query: str,
    query_vector: list[float],
    *,
    top_k: int = 10,
    tags: list[str] | None = None,
    match_all_tags: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Hit]:
    """Search everything the agent sees: its own passages and its attached archives'."""
    return search_scope(
        session,
        index,
        passages.scope_of_agent(session, agent_id),
        query,
        query_vector,
        top_k=top_k,
        tags=tags,
        match_all_tags=match_all_tags,
        start=start,
        end=end,
    )


def search_scope(
    session: Session,
    index: VectorIndex,
    scope: Scope,
    query: str,
    query_vector: list[float],
    *,
    top_k: int = 10,
    tags: list[str] | None = None,
    match_all_tags: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Hit]:
    """Fuse vector and full-text rankings by reciprocal rank, within the scope and filters.

    Only passages whose embedding has the query's dimension take part in the vector ranking;
    callers keep one embedding model per scope (attaching a mismatched archive is refused).
    """
    where = passages.PassageFilter(tuple(tags or ()), match_all_tags, start, end)
    allowed = passages.filtered_seqs(session, scope, where) if where.active else None
    if allowed is not None and not allowed:
        return []
    depth = max(top_k * 3, 50)
    nearest = index.nearest(session, scope.owners, query_vector, depth, allowed)
    vector_ranked = [seq for seq, _ in nearest]
    keyword_ranked = passages.keyword_seqs(session, scope, query, depth, where)
    scores: dict[int, float] = {}
    for ranking in (vector_ranked, keyword_ranked):
        for rank, seq in enumerate(ranking):
            scores[seq] = scores.get(seq, 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(scores, key=lambda seq: -scores[seq])[:top_k]
    rows = passages.by_seqs(session, best)
    return [Hit(rows[seq], scores[seq]) for seq in best if seq in rows]


async def embed_one(embedder: Embedder, text: str) -> list[float]:
    return (await embedder.embed([text]))[0]
