"""SQLite: FTS5 tables beside ``messages`` and ``passages`` (rowid = seq), ranked by BM25."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from engram.store.tables import as_utc


def _quoted(term: str) -> str:
    """A term as an FTS5 string, so user text never breaks the query syntax."""
    return '"' + term.replace('"', '""') + '"'


class SqliteSearch:
    def keyword_ranked(
        self,
        session: Session,
        table: str,
        terms: Sequence[str],
        clauses: Sequence[str],
        params: dict[str, object],
        limit: int,
    ) -> list[int]:
        if not terms:
            return []
        fts = f"{table}_fts"
        rows = session.execute(
            text(
                f"SELECT {table}.seq FROM {fts} JOIN {table} ON {table}.seq = {fts}.rowid "
                f"WHERE {fts} MATCH :match "
                + "".join(f"AND {clause} " for clause in clauses)
                + f"ORDER BY bm25({fts}) LIMIT :limit"
            ),
            {**params, "match": " OR ".join(_quoted(term) for term in terms), "limit": limit},
        )
        return [int(row[0]) for row in rows]

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
