"""Background work as asyncio tasks of the server process (the embedded deployment).

Nothing here survives a restart: a job's task dies with the process. Shutdown cancels the
tasks, which lets each one record how it ended before the database closes; a queued turn
that had not started leaves its run queued, and the next start queues it again from the
run row (``runtime/background.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from engram.jobs.queue import JobHandler, UnknownJobKind

log = logging.getLogger(__name__)

T = TypeVar("T")

SHUTDOWN_GRACE_SECONDS = 10.0
"""How long shutdown waits for cancelled tasks to record how they ended."""


class InProcessJobs:
    """Runs every job and spawned task on the running event loop, and keeps track of them."""

    def __init__(self, *, shutdown_grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        self._handlers: dict[str, JobHandler] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._shutdown_grace = shutdown_grace

    def register(self, kind: str, handler: JobHandler) -> None:
        self._handlers[kind] = handler

    async def start(self) -> None:
        """Nothing to start: a job runs as soon as it is enqueued."""

    async def enqueue(self, kind: str, payload: dict[str, Any]) -> None:
        handler = self._handlers.get(kind)
        if handler is None:
            raise UnknownJobKind(kind)
        self.spawn(_as_coroutine(handler, payload), name=f"job:{kind}")

    def spawn(self, work: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        if self._closed:
            work.close()
            raise RuntimeError("the server is shutting down; no new background work")
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    @property
    def active(self) -> int:
        """How many tasks are still running (for tests and health checks)."""
        return len(self._tasks)

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=self._shutdown_grace)
            if pending:
                log.warning("%d background tasks outlived the shutdown grace period", len(pending))

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        # Nobody awaits these tasks, so a failure would otherwise surface only as asyncio's
        # "exception was never retrieved" at garbage collection.
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background task %s failed", task.get_name(), exc_info=exc)


async def _as_coroutine(handler: JobHandler, payload: dict[str, Any]) -> None:
    await handler(payload)
