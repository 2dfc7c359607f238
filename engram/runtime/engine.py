"""``Services``: the composition root of one process (a server, or an in-process client):
the database, providers, embedders, job queue and agent gate, built once from the settings
and handed (narrowly) to what needs them. It only builds and closes the parts; starting
them, and the jobs that run on them, is ``lifecycle.start``."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager

from engram.config import Settings
from engram.jobs import InProcessJobs, JobQueue
from engram.llm.endpoints import load_endpoints
from engram.llm.registry import ProviderRegistry
from engram.mcp.sessions import McpSessions
from engram.memory.embeddings import EmbeddingRegistry
from engram.memory.rerank import reranker_from
from engram.runtime.agent_gate import AgentGate
from engram.runtime.memory_gateway import MemoryGateway
from engram.runtime.recall_index import RecallIndexer
from engram.runtime.window import WindowCache
from engram.store.db import Database
from engram.store.vector_sources import MESSAGES
from engram.store.vectors import VectorIndex


class Services:
    """Holds the database, providers, embedders and per-agent locks of one process."""

    def __init__(
        self,
        settings: Settings,
        *,
        schema_migrated: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``environ``: where the providers' own variables (``OPENAI_BASE_URL``...) are
        read; None is this process's environment. Tests serving several apps from one
        process give each its own."""
        self.settings = settings
        # The caller brought the schema up to date already: start-up does not migrate.
        self.schema_migrated = schema_migrated
        self.db = Database(
            settings.resolved_database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        self.providers = ProviderRegistry(settings, load_endpoints(settings, environ))
        self.embeddings = EmbeddingRegistry(self.providers, settings.embedding_model_dir)
        # None unless ENGRAM_RERANKER_URL is set (docs/memory.md, "Reranking").
        self.reranker = reranker_from(settings)
        self.vectors = VectorIndex()
        self.message_vectors = VectorIndex(MESSAGES)
        self.windows = WindowCache(shared=not self.db.is_sqlite)
        self.jobs = _job_queue(settings, self.db)
        self.recall_indexer = RecallIndexer(self.db, self.embeddings, self.jobs)
        self.mcp_sessions = McpSessions(settings.mcp_idle_seconds)
        self.memory_gateway = MemoryGateway(self)
        # One run at a time per agent, across every server on the database.
        self.gate = AgentGate(
            self.db,
            shared=not self.db.is_sqlite,
            busy_timeout=settings.agent_busy_timeout_seconds,
        )

    async def close(self) -> None:
        await self.jobs.close()  # first: stopped runs record how they ended
        await self.mcp_sessions.close_all()
        await self.memory_gateway.close()
        await self.providers.close()
        if self.reranker is not None:
            await self.reranker.close()
        await self.db.dispose()

    def agent_lock(self, agent_id: str) -> AbstractAsyncContextManager[None]:
        """Held while a turn (or a fold, or a deletion) of the agent runs; see AgentGate."""
        return self.gate.hold(agent_id)

    def thread_lock(
        self, agent_id: str, conversation_id: str | None
    ) -> AbstractAsyncContextManager[None]:
        """Held while a turn (or other work) of one conversation of the agent runs."""
        return self.gate.hold(agent_id, conversation_id=conversation_id)


def _job_queue(settings: Settings, db: Database) -> JobQueue:
    """In-process tasks on SQLite (one server per data dir); on PostgreSQL a queue every
    replica shares. Its library (procrastinate, with psycopg) is imported only then: a
    fifth of a second of every SQLite server's start-up."""
    if db.is_sqlite:
        return InProcessJobs()
    from engram.jobs.postgres import PostgresJobs

    return PostgresJobs(
        db.url,
        concurrency=settings.job_workers,
        worker_dead_after_seconds=settings.worker_dead_after_seconds,
    )
