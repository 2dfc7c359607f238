"""Background work on a PostgreSQL-backed queue (procrastinate), for replicated servers.

A job is a row in the database, so a queued turn survives the replica that accepted it
and is picked up by whichever replica's worker is free: every server process runs one
worker in its event loop. The queue's tables are created by our own migration
(``0010_job_queue``), so one migration history covers them too.

Tasks bound to this process (a stream's turn, which feeds an in-memory event queue) do
not go to the queue: ``spawn`` runs them in-process, as the embedded deployment does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from engram.jobs.inprocess import InProcessJobs
from engram.jobs.queue import JobHandler, UnknownJobKind

log = logging.getLogger(__name__)

T = TypeVar("T")

SHUTDOWN_GRACE_SECONDS = 10.0


def conninfo_of(database_url: str) -> str:
    """The libpq connection string of a SQLAlchemy ``postgresql+psycopg://`` URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PostgresJobs:
    """Jobs deferred to procrastinate's tables; this process works on them as well."""

    def __init__(self, database_url: str, *, concurrency: int = 8, name: str = "engram") -> None:
        from procrastinate import App, PsycopgConnector

        # A small pool: each replica needs a connection to listen for new jobs and a few
        # to take and finish them; the server's own pool is separate.
        connector = PsycopgConnector(
            conninfo=conninfo_of(database_url), min_size=1, max_size=max(2, concurrency // 2)
        )
        self._app = App(connector=connector)
        self._local = InProcessJobs()
        self._concurrency = concurrency
        self._name = name
        self._worker: asyncio.Task[None] | None = None
        self._open = False

    def register(self, kind: str, handler: JobHandler) -> None:
        async def work(**payload: Any) -> None:
            await handler(payload)

        self._app.task(name=kind, pass_context=False)(work)

    async def start(self) -> None:
        """Connect and start this process's worker (after the schema is migrated)."""
        await self._app.open_async()
        self._open = True
        self._worker = asyncio.get_running_loop().create_task(
            self._app.run_worker_async(
                name=self._name,
                concurrency=self._concurrency,
                install_signal_handlers=False,
                # As in-process: shutdown stops running turns at once, and each records
                # its run as cancelled (the steps it committed stand).
                shutdown_graceful_timeout=0,
                delete_jobs="successful",
            ),
            name="job-worker",
        )
        self._worker.add_done_callback(_report_worker_end)

    async def enqueue(self, kind: str, payload: dict[str, Any]) -> None:
        if kind not in self._app.tasks:
            raise UnknownJobKind(kind)
        await self._app.configure_task(kind).defer_async(**payload)

    def spawn(self, work: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        return self._local.spawn(work, name=name)

    @property
    def active(self) -> int:
        return self._local.active

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._worker, SHUTDOWN_GRACE_SECONDS + 5)
            self._worker = None
        await self._local.close()
        if self._open:
            await self._app.close_async()
            self._open = False


def _report_worker_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("the background job worker stopped", exc_info=exc)
