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
from engram.memory.ranking import SearchMode, fuse
from engram.store import messages, passages
from engram.store import tables as t
from engram.store.passages import Scope
from engram.store.vectors import VectorIndex


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
    mode: SearchMode = "hybrid",
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
        mode=mode,
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
    mode: SearchMode = "hybrid",
) -> list[Hit]:
    """Fuse vector and full-text rankings by reciprocal rank, within the scope and filters.
    ``mode`` keeps one of the two rankings alone (for evaluation and for exact lookups).

    Only passages whose embedding has the query's dimension take part in the vector ranking;
    callers keep one embedding model per scope (attaching a mismatched archive is refused).
    """
    where = passages.PassageFilter(tuple(tags or ()), match_all_tags, start, end)
    allowed = passages.filtered_seqs(session, scope, where) if where.active else None
    if allowed is not None and not allowed:
        return []
    depth = max(top_k * 3, 50)
    rankings: list[list[int]] = []
    if mode != "fts":
        nearest = index.nearest(session, scope.owners, query_vector, depth, allowed)
        # Unlike recall search, every nearest passage counts: clients expect top_k
        # results from archival search, as Letta's vector search gave them.
        rankings.append([seq for seq, _ in nearest])
    if mode != "vector":
        ranked = passages.keyword_seqs(session, scope, query, depth, where)
        if mode == "hybrid":
            ranked = messages.well_covered(session, "passages_fts", ranked, query)
        rankings.append(ranked)
    best = fuse(rankings, top_k, newer_is_larger=True)
    rows = passages.by_seqs(session, [seq for seq, _ in best])
    return [Hit(rows[seq], score) for seq, score in best if seq in rows]


async def embed_one(embedder: Embedder, text: str) -> list[float]:
    return (await embedder.embed([text]))[0]
