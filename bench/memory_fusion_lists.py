"""Each question's keyword and vector lists, read from a kept evaluation server's database.

Why: the fusion's choices are measured by re-fusing the same two lists many ways, which
takes milliseconds in-process, where a full ``memory_eval.py`` run takes minutes. The
lists are what hybrid search reads for the bench's requests (10 results, so 50 deep),
from the same store functions, inside a question's time range when it names one (the
date handling of ``archival.search_scope`` and ``recall.search``: the dated lists first,
then the undated ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.memory_eval_long_data import LongQuestion
from engram.memory import dates
from engram.memory.local_embedding import shared_local_model
from engram.ops.messages import SEARCHABLE_ROLES
from engram.store import db, messages, passages
from engram.store import tables as t
from engram.store.vector_sources import MESSAGES, PASSAGES
from engram.store.vectors import VectorIndex

DEPTH = 50
"""As deep as hybrid search reads each list for the bench's requests of 10 results."""

Ranked = list[tuple[int, float]]


@dataclass(frozen=True)
class Lists:
    """One question's lists: ``parts`` holds (keyword, vector) pairs in the order their
    fused results are concatenated (the dated pair first when the question names a time)."""

    question: LongQuestion
    parts: tuple[tuple[Ranked, Ranked], ...]


@dataclass(frozen=True)
class Corpus:
    store: str
    texts: dict[int, str]
    questions: tuple[Lists, ...]


def read_corpus(data_dir: Path, questions: Sequence[LongQuestion], store: str) -> Corpus:
    engine = db.make_engine(f"sqlite:///{data_dir / 'engram.db'}")
    vectors = shared_local_model().embed_sync([q.text for q in questions]).tolist()
    now = datetime.now(UTC)
    with Session(engine) as session:
        agent_id = session.scalars(select(t.Agent.id)).one()
        if store == "recall":
            texts = {row.seq: row.search_text or "" for row in session.scalars(select(t.Message))}
        else:
            texts = {row.seq: row.text for row in session.scalars(select(t.Passage))}
        found = []
        for question, vector in zip(questions, vectors, strict=True):
            when = dates.resolve(question.text, now)
            parts = []
            if when is not None:
                words = dates.without(question.text, when)
                last = when.end - timedelta(microseconds=1)
                parts.append(_pair(session, agent_id, store, words, vector, when.start, last))
            parts.append(_pair(session, agent_id, store, question.text, vector, None, None))
            found.append(Lists(question, tuple(parts)))
    engine.dispose()
    return Corpus(store, texts, tuple(found))


def _pair(
    session: Session,
    agent_id: str,
    store: str,
    query: str,
    vector: list[float],
    start: datetime | None,
    end: datetime | None,
) -> tuple[Ranked, Ranked]:
    if store == "recall":
        index = VectorIndex(MESSAGES)
        keyword = messages.search_scored(
            session, agent_id, query, roles=SEARCHABLE_ROLES, start=start, end=end, limit=DEPTH
        )
        allowed = messages.filtered_seqs(
            session, agent_id, roles=SEARCHABLE_ROLES, start=start, end=end
        )
        return keyword, index.nearest(session, [agent_id], vector, DEPTH, allowed)
    index = VectorIndex(PASSAGES)
    scope = passages.scope_of_agent(session, agent_id)
    where = passages.PassageFilter((), False, start, end)
    allowed_seqs = passages.filtered_seqs(session, scope, where) if where.active else None
    if allowed_seqs is not None and not allowed_seqs:
        return [], []
    keyword = passages.keyword_scored(session, scope, query, DEPTH, where)
    return keyword, index.nearest(session, scope.owners, vector, DEPTH, allowed_seqs)
