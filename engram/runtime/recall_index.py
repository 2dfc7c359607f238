"""The recall indexer: embeds messages after their step commits, off the step's path.

A step only writes text; this background loop notices agents with messages lacking an
embedding and embeds them in batches with the agent's own embedding model. Bursts of
steps are batched by a short delay, a failing embedding model is retried with backoff,
and a restart picks up whatever was left, because "pending" is simply a message without
an embedding row.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, exists, func, insert, select
from sqlalchemy.orm import Session

from engram.errors import CapabilityMissing
from engram.memory.embeddings import Embedder, LocalEmbedder
from engram.memory.priority import lower_thread_priority
from engram.store import tables as t
from engram.store.vectors import to_blob

if TYPE_CHECKING:
    from engram.jobs import JobQueue
    from engram.memory.embeddings import EmbeddingRegistry
    from engram.store.db import Database

MISSING_MODEL_RETRY_SECONDS = 60.0
"""How often the indexer looks again for an embedding model that is not installed."""

log = logging.getLogger(__name__)

EMBEDDED_ROLES = ("user", "assistant")
"""Tool results (often JSON of earlier searches) are left to full-text search."""

MAX_EMBEDDED_CHARS = 4000
"""Embedding models read a few hundred tokens at most; the rest only costs transfer."""


@dataclass(frozen=True)
class IndexStatus:
    messages: int
    embedded: int

    @property
    def pending(self) -> int:
        return self.messages - self.embedded


def _embeddable() -> tuple[Any, ...]:
    return (
        t.Message.role.in_(EMBEDDED_ROLES),
        t.Message.search_text.is_not(None),
        t.Message.search_text != "",
    )


def _missing() -> Any:
    return ~exists().where(t.MessageEmbedding.message_seq == t.Message.seq)


def _pending(agent_id: str, limit: int) -> Select[int, str | None]:
    return (
        select(t.Message.seq, t.Message.search_text)
        .where(t.Message.agent_id == agent_id, *_embeddable(), _missing())
        .order_by(t.Message.seq)
        .limit(limit)
    )


def status(session: Session, agent_id: str) -> IndexStatus:
    total = session.scalar(
        select(func.count())
        .select_from(t.Message)
        .where(t.Message.agent_id == agent_id, *_embeddable())
    )
    embedded = session.scalar(
        select(func.count())
        .select_from(t.MessageEmbedding)
        .where(t.MessageEmbedding.agent_id == agent_id)
    )
    return IndexStatus(int(total or 0), int(embedded or 0))


class RecallIndexer:
    """One background loop per server process; ``notify`` is cheap and never blocks."""

    def __init__(
        self,
        db: Database,
        embeddings: EmbeddingRegistry,
        jobs: JobQueue,
        *,
        batch_size: int = 16,
        delay: float = 0.5,
        retry_after: float = 5.0,
    ) -> None:
        # Batches stay small: the local model computes one batch at a time, and a search's
        # query embedding waits behind the batch in progress.
        self._db = db
        self._embeddings = embeddings
        self._jobs = jobs
        self._batch_size = batch_size
        self._delay = delay
        self._retry_after = retry_after
        self._missing_reported = False
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="engram-recall-index",
            initializer=lower_thread_priority,
        )

    def start(self) -> None:
        self._jobs.spawn(self._run(), name="recall-indexer")

    def notify(self, agent_id: str) -> None:
        """The agent has new messages; they will be embedded shortly."""
        self._dirty.add(agent_id)
        self._wake.set()

    async def _run(self) -> None:
        for agent_id in await self._db.read(_agents_with_backlog):
            self.notify(agent_id)
        while True:
            await self._wake.wait()
            # Let a burst of steps land, so that their messages share one embedding batch.
            await asyncio.sleep(self._delay)
            self._wake.clear()
            while self._dirty:
                agent_id = self._dirty.pop()
                try:
                    more = await self._index_batch(agent_id)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    retry = self._retry_later(agent_id, exc)
                    asyncio.get_running_loop().call_later(retry, self.notify, agent_id)
                    continue
                if more:
                    self._dirty.add(agent_id)

    def _retry_later(self, agent_id: str, exc: Exception) -> float:
        """Log a failed batch and say when to try again. A missing model (no weights
        installed) stays missing until an operator acts: it was warned about at start, so
        it is said once here and retried slowly, instead of a warning every few seconds."""
        if not isinstance(exc, CapabilityMissing):
            log.warning(
                "embedding messages of agent %s failed (retrying in %.0f s): %s",
                agent_id,
                self._retry_after,
                exc,
            )
            return self._retry_after
        retry = max(self._retry_after, MISSING_MODEL_RETRY_SECONDS)
        level = logging.DEBUG if self._missing_reported else logging.WARNING
        self._missing_reported = True
        log.log(level, "messages are not embedded for search by meaning until: %s", exc)
        return retry

    async def _index_batch(self, agent_id: str) -> bool:
        """Embed the agent's oldest pending messages; True if more may be waiting."""

        def _read(session: Session) -> tuple[dict[str, Any] | None, list[tuple[int, str]]]:
            agent = session.get(t.Agent, agent_id)
            if agent is None:
                return None, []
            rows = session.execute(_pending(agent_id, self._batch_size)).all()
            return agent.embedding_config, [(int(r[0]), str(r[1])) for r in rows]

        config, rows = await self._db.read(_read)
        if config is None or not rows:
            return False
        embedder = self._embeddings.embedder_for(config)
        vectors = await self._embed(embedder, [text[:MAX_EMBEDDED_CHARS] for _, text in rows])

        def _write(session: Session) -> None:
            seqs = [seq for seq, _ in rows]
            # A message deleted meanwhile, or embedded by another process, is skipped.
            alive = set(
                session.scalars(select(t.Message.seq).where(t.Message.seq.in_(seqs), _missing()))
            )
            values = [
                {
                    "message_seq": seq,
                    "agent_id": agent_id,
                    "embedding_handle": embedder.handle,
                    "embedding_dim": len(vector),
                    "embedding": to_blob(vector),
                }
                for (seq, _), vector in zip(rows, vectors, strict=True)
                if seq in alive
            ]
            if values:
                session.execute(insert(t.MessageEmbedding), values)

        await self._db.write(_write)
        return len(rows) == self._batch_size

    async def _embed(self, embedder: Embedder, texts: list[str]) -> list[list[float]]:
        if isinstance(embedder, LocalEmbedder):
            loop = asyncio.get_running_loop()
            array = await loop.run_in_executor(self._executor, embedder.model.embed_sync, texts)
            vectors: list[list[float]] = array.tolist()
            return vectors
        return await embedder.embed(texts)


def _agents_with_backlog(session: Session) -> list[str]:
    return list(
        session.scalars(select(t.Message.agent_id).where(*_embeddable(), _missing()).distinct())
    )
