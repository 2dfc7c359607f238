"""What full-text search and raw-SQL filters look like on each database.

The store's functions keep one signature; where SQLite and PostgreSQL need different SQL
(FTS5 against tsvector, text timestamps against real ones, ``json_each`` against
``json_array_elements_text``) they ask ``for_session`` for the dialect's way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session


class SearchDialect(Protocol):
    def term_seqs(
        self,
        session: Session,
        table: str,
        term: str,
        clauses: Sequence[str],
        params: dict[str, object],
    ) -> list[int]:
        """Seqs of every ``table`` row containing ``term`` (as the index stems it) and
        passing all of ``clauses``: the term's postings within one scope."""
        ...

    def term_count(
        self,
        session: Session,
        table: str,
        term: str,
        clauses: Sequence[str],
        params: dict[str, object],
    ) -> int:
        """How many rows ``term_seqs`` would return, counted in the database."""
        ...

    def matching(self, session: Session, table: str, term: str, seqs: Sequence[int]) -> set[int]:
        """Which of ``seqs`` contain ``term``, as the full-text index (stemming) sees it."""
        ...

    def moment(self, value: datetime) -> object:
        """``value`` as a bound parameter comparable with a stored timestamp in raw SQL."""
        ...

    def json_elements(self, column: str, alias: str) -> str:
        """A FROM item yielding the text elements of a JSON array column as ``alias.value``."""
        ...


def for_session(session: Session) -> SearchDialect:
    if session.get_bind().dialect.name == "postgresql":
        from engram.store.dialects.postgres import POSTGRES

        return POSTGRES
    from engram.store.dialects.sqlite import SQLITE

    return SQLITE
