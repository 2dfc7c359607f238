"""Vector search inside PostgreSQL, with pgvector.

Embeddings sit in an untyped ``vector`` column, because agents and archives use models of
different sizes. Each size gets its own HNSW index (cosine), partial on ``embedding_dim``
and over the expression ``embedding::vector(dim)``; it is built the first time a search
asks for that size, in the background and without blocking writers, and until it is ready
the search is exact.

An HNSW scan yields the ``ef_search`` nearest rows of the whole table, and the scope
(an agent's rows, an archive's) filters them afterwards: a small scope can come back short.
A search that gets fewer than ``k`` rows that way, or that is restricted to given rows
(tag, date or role filters; the messages before an agent's window), runs exact over the
scope instead; the owner indexes keep that cheap
for small scopes, and large scopes fill ``k`` from the index.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    bindparam,
    cast,
    create_engine,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from sqlalchemy.types import UserDefinedType

from engram.store.db import INDEX_BUILD_THREAD
from engram.store.embedding_type import blob_to_text

if TYPE_CHECKING:
    from engram.store.vector_sources import VectorSource

log = logging.getLogger(__name__)

HNSW_MAX_DIM = 2000
"""pgvector indexes ``vector`` columns of at most 2,000 dimensions; larger ones are
searched exactly."""

MIN_EF_SEARCH = 200
"""The HNSW candidate list a search asks for at least. Measured at 1M passages of one agent
(bench/vector_search.py): 100 gave recall@10 0.933, 150 gave 0.956, 200 gave 0.971, at a
median of 10-15 ms."""
MAX_EF_SEARCH = 1000
WIDEN_SHARE = 5
"""A first index search that found at least 1/WIDEN_SHARE of the rows asked for is tried
again with MAX_EF_SEARCH before an exact scan (measured at 1M rows, an agent owning 10%:
exact 600 ms, ef_search 1000 40 ms at recall@10 0.966)."""


class VectorOf(UserDefinedType[str]):
    """``vector(dim)``: the cast that makes an untyped vector column indexable."""

    cache_ok = True

    def __init__(self, dim: int) -> None:
        self.dim = int(dim)

    def get_col_spec(self, **_kw: Any) -> str:
        return f"vector({self.dim})"


def index_name(table: str, dim: int) -> str:
    return f"ix_hnsw_{table}_{int(dim)}"


class HnswIndexes:
    """Which per-dimension HNSW indexes exist; builds a missing one once, off the request."""

    def __init__(self) -> None:
        self._ready: set[tuple[str, int]] = set()
        self._building: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def ready(self, session: Session, table: str, dim: int) -> bool:
        key = (table, dim)
        if key in self._ready:
            return True
        valid = session.execute(
            text(
                "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                "WHERE c.relname = :name"
            ),
            {"name": index_name(table, dim)},
        ).scalar()
        if valid:
            self._ready.add(key)
            return True
        with self._lock:
            if key in self._building:
                return False
            self._building.add(key)
        engine = session.get_bind()
        threading.Thread(
            target=self._build,
            args=(engine, table, dim, valid is not None),
            name=f"{INDEX_BUILD_THREAD}{table}-{dim}",
            daemon=True,
        ).start()
        return False

    def _build(self, engine: Any, table: str, dim: int, leftover: bool) -> None:
        name = index_name(table, dim)
        # A connection of its own, closed when the build ends: one drawn from the server's
        # pool could come back after that pool was disposed at shutdown, and stay open.
        own = create_engine(engine.url, poolclass=NullPool)
        try:
            with own.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                if leftover:  # an interrupted concurrent build leaves an invalid index
                    conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))
                conn.execute(
                    text(
                        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} "
                        f"USING hnsw ((embedding::vector({dim})) vector_cosine_ops) "
                        f"WHERE embedding_dim = {dim}"
                    )
                )
            with self._lock:
                self._ready.add((table, dim))
        except Exception as exc:  # searches stay exact; the next one tries again
            log.warning("building vector index %s failed: %s", name, exc)
        finally:
            own.dispose()
            with self._lock:
                self._building.discard((table, dim))


def nearest(
    session: Session,
    source: VectorSource,
    indexes: HnswIndexes,
    owners: list[str],
    query_blob: bytes,
    dim: int,
    k: int,
    allowed: set[int] | None,
) -> list[tuple[int, float]]:
    """(seq, cosine similarity) of the ``k`` rows of ``owners`` nearest the query."""
    if not owners or k <= 0:
        return []
    table = source.seq.class_.__tablename__
    vector = VectorOf(dim)
    query = cast(bindparam("query", blob_to_text(query_blob), type_=vector), vector)
    scope = [
        # A literal, so the planner sees the partial index's predicate hold.
        source.dim == literal_column(str(int(dim))),
        or_(*(source.owner(owner) for owner in owners)),
    ]
    if allowed is not None:
        scope.append(
            source.seq == func.any(bindparam("allowed", sorted(allowed), type_=ARRAY(BigInteger)))
        )
    if allowed is None and dim <= HNSW_MAX_DIM and indexes.ready(session, table, dim):
        ef = min(MAX_EF_SEARCH, max(MIN_EF_SEARCH, 2 * k))
        distance = cast(source.embedding, vector).op("<=>")(query)
        nearest = select(source.seq, distance).where(*scope).order_by(distance).limit(k)
        session.execute(text(f"SET LOCAL hnsw.ef_search = {ef}"))
        rows = session.execute(nearest).all()
        if len(rows) < k and ef < MAX_EF_SEARCH and len(rows) * WIDEN_SHARE >= k:
            # The index ranks the whole table before the scope filter: a scope holding a
            # sizeable share of it (an agent among a few) fills k from a wider candidate
            # list far sooner than an exact scan of its rows would.
            session.execute(text(f"SET LOCAL hnsw.ef_search = {MAX_EF_SEARCH}"))
            rows = session.execute(nearest).all()
        if len(rows) >= k:
            return [(int(seq), 1.0 - float(d)) for seq, d in rows]
    # Exact: the scope's rows first (a materialized CTE keeps the planner off the index).
    candidates = (
        select(source.seq.label("seq"), source.embedding.label("embedding"))
        .where(*scope)
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    distance = cast(candidates.c.embedding, vector).op("<=>")(query)
    rows = session.execute(
        select(candidates.c.seq, distance).order_by(distance, candidates.c.seq).limit(k)
    ).all()
    return [(int(seq), 1.0 - float(d)) for seq, d in rows]
