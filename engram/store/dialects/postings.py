"""A term's rows within one scope, asked the same way of either full-text index.

Both dialects run one query per term, for its rows or their count; they differ only in
how the query finds the term (FTS5's MATCH against a ``tsvector``) and in how the term
is bound (FTS5 wants it quoted). Each dialect says those two things; the rest is here.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session


class PostingsSearch:
    def postings(self, table: str, selected: str, clauses: Sequence[str]) -> str:
        """SQL selecting ``selected`` from the rows of ``table`` that hold the ``:match``
        term and pass ``clauses``."""
        raise NotImplementedError

    def match(self, term: str) -> str:
        """``term`` as the ``:match`` parameter."""
        return term

    def term_seqs(
        self,
        session: Session,
        table: str,
        term: str,
        clauses: Sequence[str],
        params: dict[str, object],
    ) -> list[int]:
        query = text(self.postings(table, f"{table}.seq", clauses))
        rows = session.execute(query, {**params, "match": self.match(term)})
        return [int(row[0]) for row in rows]

    def term_count(
        self,
        session: Session,
        table: str,
        term: str,
        clauses: Sequence[str],
        params: dict[str, object],
    ) -> int:
        query = text(self.postings(table, "count(*)", clauses))
        return int(session.execute(query, {**params, "match": self.match(term)}).scalar_one())
