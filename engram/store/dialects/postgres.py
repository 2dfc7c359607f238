"""PostgreSQL: a generated ``search_tsv`` column with a GIN index, ranked by ``ts_rank``.

The text search configuration ``engram_english`` (migration 0001) stems like SQLite's
porter tokenizer and keeps stop words, so both databases match the same words. Each query
term becomes a phrase query (a term like ``foo_bar`` is two words to the parser, as it is
to FTS5), OR-ed together like the SQLite side's query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from engram.store.tables import as_utc

TS_CONFIG = "engram_english"

RANK_NORMALIZATION = 1
"""ts_rank divides by 1 + log(document length): long documents do not win by size alone,
as under BM25."""


def _any_term(terms: Sequence[str], params: dict[str, object]) -> str:
    parts = []
    for i, term in enumerate(terms):
        params[f"term{i}"] = term
        parts.append(f"phraseto_tsquery('{TS_CONFIG}', :term{i})")
    return "(" + " || ".join(parts) + ")"


class PostgresSearch:
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
        bound = {**params, "limit": limit}
        query = _any_term(terms, bound)
        rows = session.execute(
            text(
                f"SELECT {table}.seq FROM {table} WHERE {table}.search_tsv @@ {query} "
                + "".join(f"AND {clause} " for clause in clauses)
                + f"ORDER BY ts_rank({table}.search_tsv, {query}, {RANK_NORMALIZATION}) DESC, "
                f"{table}.seq LIMIT :limit"
            ),
            bound,
        )
        return [int(row[0]) for row in rows]

    def matching(self, session: Session, table: str, term: str, seqs: Sequence[int]) -> set[int]:
        rows = session.execute(
            text(
                f"SELECT seq FROM {table} WHERE seq = ANY(:seqs) "
                f"AND search_tsv @@ phraseto_tsquery('{TS_CONFIG}', :term)"
            ),
            {"seqs": [int(seq) for seq in seqs], "term": term},
        )
        return {int(row[0]) for row in rows}

    def moment(self, value: datetime) -> object:
        return as_utc(value)

    def json_elements(self, column: str, alias: str) -> str:
        # A JSON null or scalar has no elements (as under SQLite's json_each), not an error.
        array = f"CASE WHEN json_typeof({column}) = 'array' THEN {column} ELSE '[]'::json END"
        return f"json_array_elements_text({array}) AS {alias}(value)"


POSTGRES = PostgresSearch()
