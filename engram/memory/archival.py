"""Archival memory: passages written and searched by meaning and by keyword."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from engram.memory.embeddings import Embedder
from engram.store import passages
from engram.store import tables as t
from engram.store.tables import as_utc
from engram.store.vectors import VectorIndex

# Reciprocal-rank fusion constant: ranks deep in one list still count, but the head dominates.
RRF_K = 60


@dataclass(frozen=True)
class Hit:
    passage: t.Passage
    score: float


async def search(
    session: AsyncSession,
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
    """Fuse vector and full-text rankings by reciprocal rank, then apply filters."""
    filtered = bool(tags or start or end)
    # Over-fetch when filters will drop candidates after ranking.
    depth = max(top_k * (8 if filtered else 3), 50)
    vector_ranked = [seq for seq, _ in await index.nearest(session, agent_id, query_vector, depth)]
    keyword_ranked = await passages.keyword_seqs(session, agent_id, query, depth)
    scores: dict[int, float] = {}
    for ranking in (vector_ranked, keyword_ranked):
        for rank, seq in enumerate(ranking):
            scores[seq] = scores.get(seq, 0.0) + 1.0 / (RRF_K + rank + 1)
    rows = await passages.by_seqs(session, list(scores))
    hits: list[Hit] = []
    for seq in sorted(scores, key=lambda s: -scores[s]):
        row = rows.get(seq)
        if row is None or not _passes(row, tags, match_all_tags, start, end):
            continue
        hits.append(Hit(row, scores[seq]))
        if len(hits) == top_k:
            break
    return hits


def _passes(
    row: t.Passage,
    tags: list[str] | None,
    match_all_tags: bool,
    start: datetime | None,
    end: datetime | None,
) -> bool:
    if tags:
        have = set(row.tags or [])
        if match_all_tags and not set(tags) <= have:
            return False
        if not match_all_tags and not (set(tags) & have):
            return False
    created = as_utc(row.created_at)
    if start is not None and created < as_utc(start):
        return False
    return not (end is not None and created > as_utc(end))


async def embed_one(embedder: Embedder, text: str) -> list[float]:
    return (await embedder.embed([text]))[0]
