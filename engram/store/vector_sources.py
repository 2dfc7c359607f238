"""Where each kind of embedding is stored (passages, and messages for recall search): the
columns both searches read, the exact one in ``vectors`` and pgvector's in ``pg_vectors``.
Kept apart from both, so that ``pg_vectors`` needs nothing from ``vectors``, its caller."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement

from engram.store import tables as t

ARCHIVE_PREFIX = "archive-"


def owner_clause(owner: str) -> ColumnElement[bool]:
    """Passages owned by ``owner``: an archive id, or else an agent id."""
    if owner.startswith(ARCHIVE_PREFIX):
        return t.Passage.archive_id == owner
    return t.Passage.agent_id == owner


def _message_owner(owner: str) -> ColumnElement[bool]:
    return t.MessageEmbedding.agent_id == owner


@dataclass(frozen=True)
class VectorSource:
    """Where one kind of embedding is stored: its row key, dimension and vector columns."""

    seq: Any
    dim: Any
    embedding: Any
    owner: Callable[[str], ColumnElement[bool]]


PASSAGES = VectorSource(t.Passage.seq, t.Passage.embedding_dim, t.Passage.embedding, owner_clause)
MESSAGES = VectorSource(
    t.MessageEmbedding.message_seq,
    t.MessageEmbedding.embedding_dim,
    t.MessageEmbedding.embedding,
    _message_owner,
)
