"""BM25 with statistics of one scope, the same on SQLite and PostgreSQL.

FTS5's ``bm25()`` takes its document frequencies and average length from the whole
table, so one agent's writes move another agent's ranking; PostgreSQL's ``ts_rank`` is
not BM25 at all (no inverse document frequency). Here the full-text index only answers
which rows of the scope hold each query term (its postings, stemmed as the index stems);
the scores are computed from those: document frequencies, row count and average length
all counted inside the scope (an agent's messages, an agent's passages and its attached
archives'), so nothing outside it changes the order.

A term counts once per row (binary term frequency): conversation turns and notes are
short, a word is rarely repeated in one, and postings are all the index needs to give.
Length is measured in characters, against the scope's average.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from engram.store import dialects

BM25_K1 = 1.2
"""How fast a row's score saturates with matched terms; FTS5's own value (the measured
optimum on the long-conversation evaluation lies flat around it)."""

BM25_B = 0.5
"""How much a long row is penalised for its length: lower than the usual 0.75, since an
archived turn's date and speaker lengthen short turns alike (measured, docs/design.md)."""

POOL = 300
"""Rows fully scored: the best by matched terms' weight, before lengths are read."""

COMMON_SHARE = 0.2
"""A term in more than this share of the scope's rows is not read row by row."""

_LENGTH_COLUMNS = {"messages": "search_text", "passages": "text"}

_SIZES: dict[tuple[object, ...], tuple[int, int, float]] = {}
"""Average row length per scope, with the row count and newest seq it was measured at:
reading every row's length is the costliest part of a search, and it only changes when
rows come or go."""

_SIZES_KEPT = 256


def bm25_ranked(
    session: Session,
    table: str,
    terms: Sequence[str],
    clauses: Sequence[str],
    params: dict[str, object],
    limit: int,
) -> list[tuple[int, float]]:
    """(seq, BM25 score) of the ``table`` rows passing ``clauses`` that hold any of
    ``terms``, best first; ties go to the newer row.

    Every term's document frequency is counted in the database; the rows themselves are
    read for every term but the very common ones (in more than ``COMMON_SHARE`` of the
    scope), whose small weight is then added to the candidates that hold them. A row
    holding only very common terms is left out unless no term is rarer."""
    if not terms:
        return []
    dialect = dialects.for_session(session)
    counts = {term: dialect.term_count(session, table, term, clauses, params) for term in terms}
    present = sorted((term for term in terms if counts[term]), key=lambda term: counts[term])
    if not present:
        return []
    total, avgdl = _scope_size(session, table, clauses, params)
    idf = {
        term: math.log(1.0 + (total - counts[term] + 0.5) / (counts[term] + 0.5))
        for term in present
    }
    weights: dict[int, float] = {}
    cap = max(POOL, int(total * COMMON_SHARE))
    read = [term for term in present if counts[term] <= cap] or present[:1]
    unread = [term for term in present if term not in read]
    for term in read:
        for seq in dialect.term_seqs(session, table, term, clauses, params):
            weights[seq] = weights.get(seq, 0.0) + idf[term]
    pool = sorted(weights, key=lambda seq: (-weights[seq], -seq))[:POOL]
    for term in unread:
        for seq in dialect.matching(session, table, term, pool):
            weights[seq] += idf[term]
    lengths = _lengths(session, table, pool)
    scores = {}
    for seq in pool:
        norm = 1.0 - BM25_B + BM25_B * lengths.get(seq, avgdl) / avgdl
        scores[seq] = weights[seq] * (BM25_K1 + 1.0) / (1.0 + BM25_K1 * norm)
    ranked = sorted(scores, key=lambda seq: (-scores[seq], -seq))[:limit]
    return [(seq, scores[seq]) for seq in ranked]


def _scope_size(
    session: Session, table: str, clauses: Sequence[str], params: dict[str, object]
) -> tuple[int, float]:
    """Rows in the scope and their average length (measured again when rows were added or
    removed since the last time)."""
    column = _LENGTH_COLUMNS[table]
    where = " AND ".join(clauses) or "TRUE"
    count, newest = session.execute(
        text(f"SELECT count(*), max({table}.seq) FROM {table} WHERE {where}"), params
    ).one()
    total, last = int(count or 0), int(newest or 0)
    key = (
        session.get_bind().engine.url.render_as_string(),
        table,
        *clauses,
        *sorted(params.items()),
    )
    known = _SIZES.get(key)
    if known is not None and known[:2] == (total, last):
        return total, known[2]
    average = session.execute(
        text(f"SELECT avg(length({table}.{column})) FROM {table} WHERE {where}"), params
    ).scalar_one()
    avgdl = float(average or 1.0) or 1.0
    if len(_SIZES) >= _SIZES_KEPT:
        _SIZES.pop(next(iter(_SIZES)))
    _SIZES[key] = (total, last, avgdl)
    return total, avgdl


def _lengths(session: Session, table: str, seqs: list[int]) -> dict[int, float]:
    if not seqs:
        return {}
    column = _LENGTH_COLUMNS[table]
    marks = ", ".join(str(int(seq)) for seq in seqs)
    rows = session.execute(
        text(f"SELECT seq, length({column}) FROM {table} WHERE seq IN ({marks})")
    )
    return {int(seq): float(length or 0) for seq, length in rows}
