"""Bringing built ``Services`` to life: the one start-up both the HTTP app's lifespan and
``AsyncEngram.open`` run, so a server and an in-process client start the same way.

``Services`` only builds the parts; what runs on them (the background jobs, recovery of
the runs an earlier process left, the recall indexer) is wired here, above the step loop,
which is what lets the composition root sit below everything that uses it.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.config import Settings
from engram.ids import new_id
from engram.memory.file_tools import FILE_TOOL_SCHEMAS, FILE_TOOL_TYPE
from engram.memory.local_embedding import LocalEmbeddingUnavailable, locate_model_dir
from engram.runtime import agent_calls, background, ingestion, run_recovery, sleeptime
from engram.runtime.agent_calls import AGENT_CALL_SCHEMAS, AGENT_CALL_TOOL_TYPE
from engram.runtime.builtin_tools import BUILTIN_SCHEMAS
from engram.runtime.engine import Services
from engram.runtime.step import run_turn
from engram.store import tables as t
from engram.store.db import migrate
from engram.tools import confinement
from engram.tools.builtins import BUILTIN_TOOL_SCHEMAS, BUILTIN_TOOL_TYPE

log = logging.getLogger(__name__)

CORE_TOOLS = {
    "send_message",
    "conversation_search",
    "archival_memory_insert",
    "archival_memory_search",
}


async def start(services: Services) -> None:
    """Migrate the schema (unless the caller did), make sure the built-in tools exist,
    register and start the background jobs, settle the runs an earlier process left, and
    warm the embedder."""
    settings, db = services.settings, services.db
    if not services.schema_migrated:
        await asyncio.to_thread(migrate, db.url)
    await db.write(_seed_tools)
    background.register_jobs(services)
    agent_calls.register_jobs(services, run_turn)
    ingestion.register_jobs(services)
    sleeptime.register_jobs(services)
    if settings.recall_embeddings:
        services.recall_indexer.start()
    if db.is_sqlite:
        # An embedded database has one server: whatever it was running died with it,
        # and what it had queued but not started runs now.
        await background.recover_runs(db, services.jobs)
        await ingestion.resume(db, services.jobs)
    else:
        # Replicas share the database: only runs nobody holds a lease for are dead,
        # now and whenever a replica dies later.
        await run_recovery.expire_dead_holders(db, services.gate.holder)
        await run_recovery.fail_orphaned_runs(db, settings)
        services.jobs.spawn(run_recovery.sweep_orphaned_runs(db, settings), name="orphan-sweep")
    await services.jobs.start()
    # Sleep-time runs a stop cut short run again (queued once the queue is open).
    await sleeptime.resume_interrupted(db, services.jobs)
    if not db.is_sqlite:
        period = settings.orphan_grace_seconds
        services.jobs.spawn(
            sleeptime.watch_interrupted(db, services.jobs, period), name="sleeptime-resume"
        )
    # Probed once here (real children, in a thread), then cached; logged loudly when
    # tools would run unconfined or be refused.
    await asyncio.to_thread(confinement.announce, settings)
    _warn_if_no_local_embeddings(settings)
    if settings.warm_embeddings:
        services.embeddings.local_model.warm_up_in_background()


def _warn_if_no_local_embeddings(settings: Settings) -> None:
    """Say at start, not at an agent's first memory write, that the default embedding
    model cannot run: archival memory of agents using it answers 503 until it can."""
    try:
        locate_model_dir(settings.embedding_model_dir)
    except LocalEmbeddingUnavailable as exc:
        log.warning("%s (until then, archival memory of agents using it answers 503)", exc)


def _seed_tools(session: Session) -> None:
    """Create every built-in tool, or refresh its schema after an upgrade. A custom tool
    that already took the name of a built-in leaving the process (run_code,
    fetch_webpage, web_search) keeps it: it stays the user's, and the built-in is not
    offered under that name."""
    existing = {
        tool.name: tool
        for tool in session.scalars(select(t.Tool).where(t.Tool.name.in_(list(BUILTIN_SCHEMAS))))
    }
    for name, schema in BUILTIN_SCHEMAS.items():
        tool_type, tag = _kind(name)
        tool = existing.get(name)
        if tool is None:
            session.add(
                t.Tool(
                    id=new_id("tool"),
                    name=name,
                    tool_type=tool_type,
                    description=schema["description"],
                    source_type="python",
                    json_schema=schema,
                    tags=[tag],
                    return_char_limit=50_000,
                )
            )
        elif name in BUILTIN_TOOL_SCHEMAS and tool.tool_type != BUILTIN_TOOL_TYPE:
            log.warning(
                "a %s tool named %s exists: the built-in %s is not offered",
                tool.tool_type,
                name,
                name,
            )
        elif tool.json_schema != schema:
            tool.json_schema = schema
            tool.description = schema["description"]


def _kind(name: str) -> tuple[str, str]:
    """A built-in's ``tool_type`` and tag, as Letta files them."""
    if name in BUILTIN_TOOL_SCHEMAS:
        return BUILTIN_TOOL_TYPE, "letta_builtin"
    if name in AGENT_CALL_SCHEMAS:
        return AGENT_CALL_TOOL_TYPE, "letta_core"
    if name in FILE_TOOL_SCHEMAS:
        return FILE_TOOL_TYPE, FILE_TOOL_TYPE
    return ("letta_core" if name in CORE_TOOLS else "letta_memory_core"), "letta_core"
