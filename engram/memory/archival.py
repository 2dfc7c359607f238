"""Archival memory: passages written and searched by meaning and by keyword.

An agent searches its own passages and those of the archives attached to it; the scope is
applied inside each ranking (vector matrices per owner, an SQL clause for full text), never
as a filter on results, so a small archive is searched as thoroughly as a large one.

A passage is embedded whole or not at all: a text longer than the embedding model reads
is stored as several passages (``passage_texts``), each embedded in full, rather than as
one passage whose vector knows only its opening.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engram.files.chunking import DEFAULT_OVERLAP_TOKENS, chunk_document
from engram.files.document import ParsedDocument
from engram.files.tokens import max_input_tokens_for, token_spans_for
from engram.memory import dates
from engram.memory.embeddings import Embedder
from engram.memory.ranking import KEYWORD_WEIGHT, SearchMode, blend, fuse
from engram.store import passages
from engram.store import tables as t
from engram.store.passages import Scope
from engram.store.tables import as_utc
from engram.store.vectors import VectorIndex


@dataclass(frozen=True)
class Blending:
    """How hybrid search weighs its sides for one kind of passage. Memory notes: the
    measured defaults, newer first. A file's chunks (``file_search``) are long, so one
    sentence in them moves their embedding little and keywords weigh more; their order is
    the file's, not an age, so none gets a recency bonus; and their keyword side keeps its
    whole weight however little its best hit leads (``ranking.lead_confidence`` was
    measured on memory, not on chunks)."""

    keyword_weight: float = KEYWORD_WEIGHT
    newer_first: bool = True
    by_lead: bool = True


FILE_CHUNKS = Blending(keyword_weight=0.5, newer_first=False, by_lead=False)


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
    now: datetime | None = None,
    blending: Blending = Blending(),
) -> list[Hit]:
    """Blend vector and full-text rankings by their scores, within the scope and filters.

    A hybrid query that names a time ("in May 2023", "two weeks ago"; ``dates.resolve``
    against ``now``, the agent's clock) and sets no range of its own puts the passages
    of that time first, then the rest. A time named by an event ("the day after the
    move") is placed by the passage that tells of the event (``_event_range``).
    ``mode`` keeps one of the two rankings alone (for evaluation and for exact lookups).

    Only passages whose embedding has the query's dimension take part in the vector ranking;
    callers keep one embedding model per scope (attaching a mismatched archive is refused).
    """
    where = passages.PassageFilter(tuple(tags or ()), match_all_tags, start, end)
    when = None
    if mode == "hybrid" and start is None and end is None:
        clock = now or datetime.now(UTC)
        when = dates.resolve(query, clock) or _event_range(session, scope, query, clock)
    if when is None:
        return _ranked(session, index, scope, query, query_vector, top_k, where, mode, blending)
    dated = replace(where, start=when.start, end=when.end - timedelta(microseconds=1))
    words = dates.without(query, when)
    first = _ranked(session, index, scope, words, query_vector, top_k, dated, mode, blending)
    rest = _ranked(session, index, scope, query, query_vector, top_k, where, mode, blending)
    seen = {hit.passage.seq for hit in first}
    return (first + [hit for hit in rest if hit.passage.seq not in seen])[:top_k]


def _event_range(
    session: Session, scope: Scope, query: str, now: datetime
) -> dates.TimeRange | None:
    """The range of an event-relative time in ``query`` ("the week after the move"),
    placed at the passage of the scope that best matches the event's words, or None.

    By keywords only: an event is named by its words ("the move", "my sister's
    wedding"), and only the whole query was embedded; embedding the event's words too
    would double the embedding cost of such a search. Tags do not apply: the event is
    what the results are dated by, not one of them."""
    said = dates.event_time(query)
    if said is None:
        return None
    best = passages.keyword_scored(session, scope, said.event, dates.ANCHOR_CANDIDATES)
    rows = passages.by_seqs(session, [seq for seq, _ in best])
    found = [(as_utc(rows[seq].created_at), rows[seq].text) for seq, _ in best if seq in rows]
    return dates.anchored(said, found, now)


def _ranked(
    session: Session,
    index: VectorIndex,
    scope: Scope,
    query: str,
    query_vector: list[float],
    top_k: int,
    where: passages.PassageFilter,
    mode: SearchMode,
    blending: Blending,
) -> list[Hit]:
    allowed = passages.filtered_seqs(session, scope, where) if where.active else None
    if allowed is not None and not allowed:
        return []
    depth = max(top_k * 3, 50)
    nearest: list[tuple[int, float]] = []
    keyword: list[tuple[int, float]] = []
    if mode != "fts":
        # Unlike recall search, every nearest passage counts: clients expect top_k
        # results from archival search, as Letta's vector search gave them.
        nearest = index.nearest(session, scope.owners, query_vector, depth, allowed)
    if mode != "vector":
        keyword = passages.keyword_scored(session, scope, query, depth, where)
    if mode == "hybrid":
        best = blend(
            keyword,
            nearest,
            top_k,
            newer_is_larger=blending.newer_first,
            keyword_weight=blending.keyword_weight,
            by_lead=blending.by_lead,
        )
    else:  # one ranking alone, with its own scores (BM25 or cosine similarity)
        best = (keyword or nearest)[:top_k]
    rows = passages.by_seqs(session, [seq for seq, _ in best])
    return [Hit(rows[seq], score) for seq, score in best if seq in rows]


def search_everything(
    session: Session,
    index: VectorIndex,
    groups: Sequence[tuple[Sequence[str], list[float]]],
    query: str,
    *,
    top_k: int = 10,
    tags: list[str] | None = None,
    match_all_tags: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Hit]:
    """``search_scope`` over every passage: the keyword ranking covers them all, and each
    ``(owners, query vector)`` group, one per embedding model, adds the vector ranking of
    its owners' passages (vectors of different models do not compare, so each model's
    passages are ranked against the query embedded by that model). Fused by rank."""
    scope = passages.Scope(everything=True)
    where = passages.PassageFilter(tuple(tags or ()), match_all_tags, start, end)
    allowed = passages.filtered_seqs(session, scope, where) if where.active else None
    if allowed is not None and not allowed:
        return []
    depth = max(top_k * 3, 50)
    rankings: list[list[int]] = []
    for owners, vector in groups:
        nearest = index.nearest(session, list(owners), vector, depth, allowed)
        rankings.append([seq for seq, _ in nearest])
    ranked = passages.keyword_scored(session, scope, query, depth, where)
    rankings.append([seq for seq, _ in ranked])
    best = fuse(rankings, top_k, newer_is_larger=True)
    rows = passages.by_seqs(session, [seq for seq, _ in best])
    return [Hit(rows[seq], score) for seq, score in best if seq in rows]


async def embed_one(embedder: Embedder, text: str) -> list[float]:
    return (await embedder.embed([text]))[0]


def passage_texts(
    text: str, embedding_config: dict[str, Any], *, local_model_dir: Path | None = None
) -> list[str]:
    """The passages ``text`` is stored as: itself when the embedding model reads it
    whole, else consecutive pieces of the config's ``embedding_chunk_size`` tokens (300
    by default, lowered to what the model reads) that overlap a little and break at
    paragraph, line and sentence ends, as uploaded files are chunked.

    CPU-bound for long texts (it tokenizes them): call it from a worker thread. Raises
    ``LocalEmbeddingUnavailable`` when the local model's files are missing, as embedding
    would."""
    spans = token_spans_for(embedding_config, local_model_dir=local_model_dir)
    limit = max_input_tokens_for(embedding_config)
    if len(spans(text)) <= limit:
        return [text]
    size = max(1, int(embedding_config.get("embedding_chunk_size") or 300))
    overlap = min(DEFAULT_OVERLAP_TOKENS, size // 5)
    doc = ParsedDocument.single(text, "text/plain")
    chunks = chunk_document(doc, spans, chunk_tokens=size, overlap_tokens=overlap, max_tokens=limit)
    return [chunk.text for chunk in chunks] or [text]
