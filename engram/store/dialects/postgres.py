"""PostgreSQL: a generated ``search_tsv`` column with a GIN index, giving each term's rows.

The text search configuration ``engram_english`` (migration 0001) stems like SQLite's
porter tokenizer and keeps stop words, so both databases match the same words. Each query
term becomes a phrase query (a term like ``foo_bar`` is two words to the parser, as it is
to FTS5). Ranking is BM25 computed from those rows (``store/keyword_scores.py``), not
``ts_rank``, so both databases score alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from engram.store.dialects.postings import PostingsSearch
from engram.store.tables import as_utc

TS_CONFIG = "engram_english"


def _postings(table: str, selected: str, clauses: Sequence[str]) -> str:
    """The rows of ``table`` holding the ``:match`` term and passing ``clauses``."""
    return (
        f"SELECT {selected} FROM {table} WHERE {table}.search_tsv @@ "
        f"phraseto_tsquery('{TS_CONFIG}', :match) "
        + "".join(f"AND {clause} " for clause in clauses)
    )


class PostgresSearch(PostingsSearch):
    def postings(self, table: str, selected: str, clauses: Sequence[str]) -> str:
        return _postings(table, selected, clauses)

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
