"""SQLite: FTS5 tables beside ``messages`` and ``passages`` (rowid = seq), giving each
term's rows; BM25 is computed from them per scope (``store/keyword_scores.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from engram.store.dialects.postings import PostingsSearch
from engram.store.tables import as_utc


def _quoted(term: str) -> str:
    """A term as an FTS5 string, so user text never breaks the query syntax."""
    return '"' + term.replace('"', '""') + '"'


def _postings(table: str, selected: str, clauses: Sequence[str]) -> str:
    """The rows of ``table`` holding the ``:match`` term and passing ``clauses``. The
    index's postings come first, then the scope: joined the other way round, SQLite would
    run the MATCH once per row of the scope."""
    fts = f"{table}_fts"
    return (
        f"SELECT {selected} FROM {table} WHERE {table}.seq IN "
        f"(SELECT rowid FROM {fts} WHERE {fts} MATCH :match) "
        + "".join(f"AND {clause} " for clause in clauses)
    )


class SqliteSearch(PostingsSearch):
    def postings(self, table: str, selected: str, clauses: Sequence[str]) -> str:
        return _postings(table, selected, clauses)

    def match(self, term: str) -> str:
        return _quoted(term)

    def matching(self, session: Session, table: str, term: str, seqs: Sequence[int]) -> set[int]:
        fts = f"{table}_fts"
        marks = ", ".join(str(int(seq)) for seq in seqs)
        rows = session.execute(
            text(f"SELECT rowid FROM {fts} WHERE {fts} MATCH :term AND rowid IN ({marks})"),
            {"term": _quoted(term)},
        )
        return {int(row[0]) for row in rows}

    def moment(self, value: datetime) -> object:
        # The text form SQLAlchemy stores SQLite datetimes in, in UTC.
        return as_utc(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def json_elements(self, column: str, alias: str) -> str:
        return f"json_each({column}) AS {alias}"


SQLITE = SqliteSearch()
