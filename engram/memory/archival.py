"""Archival memory: passages written and searched by meaning and by keyword."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from engram.memory.embeddings import Embedder
from engram.store import passages
from engram.store import tables as t
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
    """Fuse vector and full-text rankings by reciprocal rank, within the filters."""
    where = passages.PassageFilter(tuple(tags or ()), match_all_tags, start, end)
    allowed = passages.filtered_seqs(session, agent_id, where) if where.active else None
    if allowed is not None and not allowed:
        return []
    depth = max(top_k * 3, 50)
    nearest = index.nearest(session, agent_id, query_vector, depth, allowed)
    vector_ranked = [seq for seq, _ in nearest]
    keyword_ranked = passages.keyword_seqs(session, agent_id, query, depth, where)
    scores: dict[int, float] = {}
    for ranking in (vector_ranked, keyword_ranked):
        for rank, seq in enumerate(ranking):
            scores[seq] = scores.get(seq, 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(scores, key=lambda seq: -scores[seq])[:top_k]
    rows = passages.by_seqs(session, best)
    return [Hit(rows[seq], scores[seq]) for seq in best if seq in rows]


async def embed_one(embedder: Embedder, text: str) -> list[float]:
    return (await embedder.embed([text]))[0]
