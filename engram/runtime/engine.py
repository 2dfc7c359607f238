"""``Services``: the composition root of one server process: the database, providers, embedders,
job queue and agent gate, built once from the settings and handed (narrowly) to what needs them."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.config import Settings
from engram.ids import new_id
from engram.jobs import InProcessJobs, JobQueue
from engram.jobs.postgres import PostgresJobs
from engram.llm.endpoints import load_endpoints
from engram.llm.registry import ProviderRegistry
from engram.mcp.sessions import McpSessions
from engram.memory.embeddings import EmbeddingRegistry
from engram.memory.local_embedding import LocalEmbeddingUnavailable, locate_model_dir
from engram.memory.tools import BASE_TOOL_SCHEMAS
from engram.runtime.agent_gate import AgentGate
from engram.runtime.recall_index import RecallIndexer
from engram.runtime.window import WindowCache
from engram.store import leases, runs
from engram.store import tables as t
from engram.store.db import Database, migrate
from engram.store.vectors import MESSAGES, VectorIndex
from engram.tools import confinement
from engram.tools.memory_gateway import MemoryGateway

log = logging.getLogger(__name__)

STOPPED_BEFORE_START = (
    "the server stopped before this run started, and its client went with it; "
    "send the message again"
)


class Services:
    """Holds the database, providers, embedders and per-agent locks of one server process."""

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
        self._schema_migrated = schema_migrated
        self.db = Database(
            settings.resolved_database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
        )
        self.providers = ProviderRegistry(settings, load_endpoints(settings, environ))
        self.embeddings = EmbeddingRegistry(self.providers, settings.embedding_model_dir)
        self.vectors = VectorIndex()
        self.message_vectors = VectorIndex(MESSAGES)
        self.windows = WindowCache(shared=not self.db.is_sqlite)
        self.jobs: JobQueue = (
            InProcessJobs()
            if self.db.is_sqlite
            else PostgresJobs(
                self.db.url,
                concurrency=settings.job_workers,
                worker_dead_after_seconds=settings.worker_dead_after_seconds,
            )
        )
        self.recall_indexer = RecallIndexer(self)
        self.mcp_sessions = McpSessions(settings.mcp_idle_seconds)
        self.memory_gateway = MemoryGateway(self)
        # One run at a time per agent, across every server on the database.
        self.gate = AgentGate(
            self.db,
            shared=not self.db.is_sqlite,
            busy_timeout=settings.agent_busy_timeout_seconds,
        )

    async def start(self) -> None:
        """Migrate the schema (unless the caller did), make sure the built-in tools exist,
        warm the embedder."""
        if not self._schema_migrated:
            await asyncio.to_thread(migrate, self.db.url)
        await self._seed_base_tools()
        from engram.runtime.background import register_jobs  # it imports this module

        register_jobs(self)
        if self.settings.recall_embeddings:
            self.recall_indexer.start()
        if self.db.is_sqlite:
            # An embedded database has one server: whatever it was running died with it,
            # and what it had queued but not started runs now.
            from engram.runtime.background import recover_runs

            await recover_runs(self)
        else:
            # Replicas share the database: only runs nobody holds a lease for are dead,
            # now and whenever a replica dies later. The leases of this host's earlier,
            # dead processes (a restart) end at once rather than after they expire.
            await self.db.write(
                lambda s: leases.expire_dead_holders(
                    s, socket.gethostname(), self.gate.holder, _process_alive
                )
            )
            await self._fail_orphaned_runs()
            self.jobs.spawn(self._sweep_orphaned_runs(), name="orphan-sweep")
        await self.jobs.start()
        # Probed once here (real children, in a thread), then cached; logged loudly when
        # tools would run unconfined or be refused.
        await asyncio.to_thread(confinement.announce, self.settings)
        self._warn_if_no_local_embeddings()
        if self.settings.warm_embeddings:
            self.embeddings.local_model.warm_up_in_background()

    def _warn_if_no_local_embeddings(self) -> None:
        """Say at start, not at an agent's first memory write, that the default embedding
        model cannot run: archival memory of agents using it answers 503 until it can."""
        try:
            locate_model_dir(self.settings.embedding_model_dir)
        except LocalEmbeddingUnavailable as exc:
            log.warning("%s (until then, archival memory of agents using it answers 503)", exc)

    async def close(self) -> None:
        await self.jobs.close()  # first: stopped runs record how they ended
        await self.mcp_sessions.close_all()
        await self.memory_gateway.close()
        await self.providers.close()
        await self.db.dispose()

    async def _fail_orphaned_runs(self) -> None:
        # A running run without a live lease on its agent this long has lost its server.
        grace = timedelta(seconds=self.settings.orphan_grace_seconds)
        failed = await self.db.write(lambda s: leases.fail_orphaned_runs(s, grace))
        # A request still waiting to start long after any wait would have ended lost its
        # server; queued runs are left to the job queue, which hands their jobs out again.
        waited = timedelta(seconds=self.settings.agent_busy_timeout_seconds) + grace
        failed += await self.db.write(
            lambda s: runs.fail_abandoned_requests(
                s, datetime.now(UTC) - waited, STOPPED_BEFORE_START
            )
        )
        if failed:
            log.warning("%d runs lost their server and were marked failed", failed)

    async def _sweep_orphaned_runs(self) -> None:
        while True:
            await asyncio.sleep(self.settings.orphan_grace_seconds)
            try:
                await self._fail_orphaned_runs()
            except Exception:  # the database may be away; the next sweep tries again
                log.warning("could not look for runs that lost their server", exc_info=True)

    def agent_lock(self, agent_id: str) -> AbstractAsyncContextManager[None]:
        """Held while a turn (or a fold, or a deletion) of the agent runs; see AgentGate."""
        return self.gate.hold(agent_id)

    async def _seed_base_tools(self) -> None:
        await self.db.write(_seed_base_tools)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _seed_base_tools(session: Session) -> None:
    """Create the built-in tools, or refresh their schemas after an upgrade."""
    existing = {
        tool.name: tool
        for tool in session.scalars(select(t.Tool).where(t.Tool.name.in_(list(BASE_TOOL_SCHEMAS))))
    }
    for name, schema in BASE_TOOL_SCHEMAS.items():
        tool = existing.get(name)
        tool_type = "letta_core" if name in CORE_TOOLS else "letta_memory_core"
        if tool is None:
            session.add(
                t.Tool(
                    id=new_id("tool"),
                    name=name,
                    tool_type=tool_type,
                    description=schema["description"],
                    source_type="python",
                    json_schema=schema,
                    tags=["letta_core"],
                    return_char_limit=50_000,
                )
            )
        elif tool.json_schema != schema:
            tool.json_schema = schema
            tool.description = schema["description"]


CORE_TOOLS = {
    "send_message",
    "conversation_search",
    "archival_memory_insert",
    "archival_memory_search",
}
