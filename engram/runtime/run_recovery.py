"""Runs a dead server process left behind, on a database shared by replicas: their turns
died with the process, so they are marked failed (SQLite, which has one server, settles
them at start instead: ``background.recover_runs``)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime, timedelta

from engram.config import Settings
from engram.store import leases, runs
from engram.store.db import Database

log = logging.getLogger(__name__)

STOPPED_BEFORE_START = (
    "the server stopped before this run started, and its client went with it; "
    "send the message again"
)


async def expire_dead_holders(db: Database, holder: str) -> None:
    """End at once the leases held by this host's earlier, dead processes (a restart),
    rather than after they expire; ``holder`` is this process's own lease holder name."""
    await db.write(
        lambda s: leases.expire_dead_holders(s, socket.gethostname(), holder, _process_alive)
    )


async def fail_orphaned_runs(db: Database, settings: Settings) -> None:
    """Mark failed the runs whose server is gone: running without a live lease on their
    agent for longer than the grace period, or still waiting to start long after any wait
    would have ended. Queued runs are left to the job queue, which hands their jobs out
    again."""
    grace = timedelta(seconds=settings.orphan_grace_seconds)
    failed = await db.write(lambda s: leases.fail_orphaned_runs(s, grace))
    waited = timedelta(seconds=settings.agent_busy_timeout_seconds) + grace
    failed += await db.write(
        lambda s: runs.fail_abandoned_requests(s, datetime.now(UTC) - waited, STOPPED_BEFORE_START)
    )
    if failed:
        log.warning("%d runs lost their server and were marked failed", failed)


async def sweep_orphaned_runs(db: Database, settings: Settings) -> None:
    """Look for runs that lost their server every grace period, for as long as this runs."""
    while True:
        await asyncio.sleep(settings.orphan_grace_seconds)
        try:
            await fail_orphaned_runs(db, settings)
        except Exception:  # the database may be away; the next sweep tries again
            log.warning("could not look for runs that lost their server", exc_info=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
