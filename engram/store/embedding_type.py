"""The column type of stored embeddings: one Python value, two storage formats.

Callers always hand over and get back the unit-normalised float32 blob that ``vectors.to_blob``
makes. SQLite stores that blob as it is and searches it in memory (``store/vectors.py``);
PostgreSQL stores it as a pgvector ``vector`` so the database itself can search it
(``store/pg_vectors.py``). The column is declared without a dimension: agents and archives
use embedding models of different sizes, and each size gets its own partial HNSW index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import LargeBinary, TypeDecorator
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine, UserDefinedType


class PgVector(UserDefinedType[str]):
    """pgvector's ``vector`` type, exchanged as its text form ``[x,y,...]``."""

    cache_ok = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "vector"


# So that reflecting a migrated database (schema checks) knows the column type.
ischema_names.setdefault("vector", PgVector)


def blob_to_text(blob: bytes) -> str:
    """A float32 blob as pgvector's text literal."""
    # Nine significant digits give every float32 back exactly, at a fraction of repr's cost.
    values = np.frombuffer(blob, dtype="<f4").tolist()
    return "[" + ",".join(map("{:.9g}".format, values)) + "]"


def text_to_blob(literal: str) -> bytes:
    values = np.array(literal.strip("[]").split(","), dtype=np.float32)
    return values.astype("<f4").tobytes()


class Embedding(TypeDecorator[bytes]):
    """A float32 blob on SQLite, a ``vector`` on PostgreSQL; bytes in Python either way."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(PgVector())
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "postgresql":
            return value
        return blob_to_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None or dialect.name != "postgresql":
            stored: bytes | None = value  # SQLite hands the blob back as it was written
            return stored
        return text_to_blob(value)
