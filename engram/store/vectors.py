"""Exact vector search for the embedded deployment (PostgreSQL searches in SQL instead).

Embeddings (of passages, and of messages for recall search) live as float32 blobs in
SQLite; each (owner, dimension) pair gets an in-memory matrix, refreshed incrementally
when rows are added and rebuilt when rows go. A passage's owner is an agent or an archive
(told apart by id prefix), a message embedding's its agent; a search over an agent and
its archives asks each owner's matrix and merges.

Exact search keeps recall at 1.0 and needs no SQLite extension (many Python builds cannot
load one); at 100k passages a query is one matrix-vector product.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engram.store import pg_vectors
from engram.store.vector_sources import PASSAGES, VectorSource


def to_blob(vector: list[float]) -> bytes:
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return (array / norm if norm > 0 else array).astype("<f4").tobytes()


@dataclass
class _Matrix:
    seqs: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    vectors: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.float32))
    count: int = 0
    max_seq: int = 0


class VectorIndex:
    """Per-process cache of embedding matrices, validated against the table on every query.

    On PostgreSQL it holds no matrices: ``nearest`` runs in the database."""

    def __init__(self, source: VectorSource = PASSAGES) -> None:
        self._source = source
        self._matrices: dict[tuple[str, int], _Matrix] = {}
        self._lock = threading.Lock()
        self._hnsw = pg_vectors.HnswIndexes()

    def nearest(
        self,
        session: Session,
        owners: str | list[str],
        query: list[float],
        k: int,
        allowed: set[int] | None = None,
    ) -> list[tuple[int, float]]:
        """The ``k`` rows of ``owners`` (agent or archive ids) most similar to ``query``
        among ``allowed`` seqs (all if None): (seq, cosine similarity) pairs, best first."""
        dim = len(query)
        if session.get_bind().dialect.name == "postgresql":
            owner_list = [owners] if isinstance(owners, str) else list(owners)
            blob = to_blob(query)
            return pg_vectors.nearest(
                session, self._source, self._hnsw, owner_list, blob, dim, k, allowed
            )
        with self._lock:
            matrices = [
                self._fresh(session, owner, dim)
                for owner in ([owners] if isinstance(owners, str) else owners)
            ]
        matrices = [matrix for matrix in matrices if matrix.count]
        if not matrices:
            return []
        q = np.frombuffer(to_blob(query), dtype=np.float32)
        seqs = np.concatenate([matrix.seqs for matrix in matrices])
        scores = np.concatenate([matrix.vectors @ q for matrix in matrices])
        if allowed is not None:
            keep = np.isin(seqs, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
            scores = np.where(keep, scores, -np.inf)
            k = min(k, int(keep.sum()))
            if k == 0:
                return []
        k = min(k, len(seqs))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(seqs[i]), float(scores[i])) for i in top]

    def _fresh(self, session: Session, owner: str, dim: int) -> _Matrix:
        source = self._source
        scope = (source.owner(owner), source.dim == dim)
        row = (session.execute(select(func.count(), func.max(source.seq)).where(*scope))).one()
        count, max_seq = int(row[0]), int(row[1] or 0)
        key = (owner, dim)
        matrix = self._matrices.get(key, _Matrix())
        if matrix.count == count and matrix.max_seq == max_seq:
            return matrix
        since = matrix.max_seq if matrix.count and max_seq >= matrix.max_seq else 0
        rows = (
            session.execute(
                select(source.seq, source.embedding)
                .where(*scope, source.seq > since)
                .order_by(source.seq)
            )
        ).all()
        seqs = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = (
            np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
            if rows
            else np.empty((0, dim), dtype=np.float32)
        )
        if since and matrix.count + len(rows) == count:
            matrix = _Matrix(
                np.concatenate([matrix.seqs, seqs]),
                np.vstack([matrix.vectors, vectors]),
                count,
                max_seq,
            )
        elif since:
            # Rows were deleted as well as added: rebuild from scratch.
            self._matrices.pop(key, None)
            return self._fresh(session, owner, dim)
        else:
            matrix = _Matrix(seqs, vectors, len(rows), max_seq)
        self._matrices[key] = matrix
        return matrix

    def forget(self, owner: str) -> None:
        """Drop the cached matrices of an agent or archive (after it or its rows are gone)."""
        with self._lock:
            for key in [key for key in self._matrices if key[0] == owner]:
                del self._matrices[key]
