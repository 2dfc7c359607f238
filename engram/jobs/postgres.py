"""Background work on a PostgreSQL-backed queue (procrastinate), for replicated servers.

A job is a row in the database, so a queued turn survives the replica that accepted it
and is picked up by whichever replica's worker is free: every server process runs one
worker in its event loop. The queue's tables are created by our own migration
(``0010_job_queue``), so one migration history covers them too.

Tasks bound to this process (a stream's turn, which feeds an in-memory event queue) do
not go to the queue: ``spawn`` runs them in-process, as the embedded deployment does.

A job taken by a worker that died (its server was killed) would stay ``doing`` for good:
every replica looks for such jobs every few seconds and hands them out again, once their
worker has missed its heartbeats for ``worker_dead_after_seconds`` (a setting). A job may therefore
run twice; a handler must make a second run harmless (a turn claims its run first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from procrastinate.retry import BaseRetryStrategy, RetryDecision
from sqlalchemy.engine import make_url

from engram.jobs.inprocess import InProcessJobs
from engram.jobs.queue import JobHandler, JobNotStarted, UnknownJobKind

log = logging.getLogger(__name__)

T = TypeVar("T")

SHUTDOWN_GRACE_SECONDS = 10.0

STALLED_CHECK_SECONDS = 10.0
"""How often this process looks for jobs whose worker died."""


def conninfo_of(database_url: str) -> str:
    """The libpq connection string of a SQLAlchemy ``postgresql+psycopg://`` URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PostgresJobs:
    """Jobs deferred to procrastinate's tables; this process works on them as well."""

    def __init__(
        self,
        database_url: str,
        *,
        concurrency: int = 8,
        name: str = "engram",
        worker_dead_after_seconds: float = 30.0,
    ) -> None:
        """``worker_dead_after_seconds``: a worker without a heartbeat for this long is dead
        (procrastinate's workers beat every 10 s); the jobs it had taken go back to the
        queue."""
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
        self._worker_dead_after = worker_dead_after_seconds
        self._worker: asyncio.Task[None] | None = None
        self._rescuer: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._open = False

    def register(self, kind: str, handler: JobHandler) -> None:
        async def work(**payload: Any) -> None:
            await handler(payload)

        self._app.task(name=kind, pass_context=False, retry=_RequeueNotStarted())(work)

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
        self._rescuer = asyncio.get_running_loop().create_task(
            self._requeue_stalled_forever(), name="job-rescuer"
        )

    async def requeue_stalled(self) -> int:
        """Put back in the queue the jobs taken by workers that died; returns how many."""
        stalled = list(
            await self._app.job_manager.get_stalled_jobs(
                seconds_since_heartbeat=self._worker_dead_after
            )
        )
        for job in stalled:
            await self._app.job_manager.retry_job(job)
        if stalled:
            log.warning("%d queued jobs lost their worker; queued them again", len(stalled))
        return len(stalled)

    async def _requeue_stalled_forever(self) -> None:
        # Ends on ``_stopping``, not only on cancellation: a cancel landing inside the
        # database driver can be absorbed there, and the loop must still end at close.
        while not self._stopping.is_set():
            try:
                await self.requeue_stalled()
            except Exception:  # the database may be away; the next look tries again
                log.warning("could not look for jobs whose worker died", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), STALLED_CHECK_SECONDS)

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
        if self._rescuer is not None:
            self._stopping.set()
            self._rescuer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._rescuer
            self._rescuer = None
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._worker, SHUTDOWN_GRACE_SECONDS + 5)
            self._worker = None
        await self._local.close()
        if self._open:
            await self._app.close_async()
            self._open = False


class _RequeueNotStarted(BaseRetryStrategy):
    """A job stopped by a shutdown before its work began goes back to the queue at once;
    any other failure is final (the handler has recorded it)."""

    def get_retry_decision(self, *, exception: BaseException, job: Any) -> RetryDecision | None:
        if isinstance(exception, JobNotStarted):
            return RetryDecision(retry_in={"seconds": 0})
        return None


def _report_worker_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("the background job worker stopped", exc_info=exc)
