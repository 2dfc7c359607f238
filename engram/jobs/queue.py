"""What the runtime asks of a background-work backend, whichever one is deployed.

Jobs are named by a kind and carry a JSON-ready payload, so that a durable queue (a
Postgres table read by workers on any replica) can implement the same interface as the
in-process runner: nothing a job needs may live only in this process's memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

JobHandler = Callable[[dict[str, Any]], Awaitable[None]]
"""Does one job given its payload; registered once per kind at start-up."""


class UnknownJobKind(LookupError):
    """A job was enqueued under a kind no handler was registered for (a programming error)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"no handler registered for background job kind '{kind}'")
        self.kind = kind


class JobNotStarted(asyncio.CancelledError):
    """Raised by a job stopped (the server shutting down) before its work began: the job is
    not done and goes back to the queue. A cancellation still, to everything else."""


class JobQueue(Protocol):
    """Background work: durable jobs by kind, plus tasks bound to this process."""

    def register(self, kind: str, handler: JobHandler) -> None:
        """Make ``handler`` the one that runs jobs of ``kind``."""
        ...

    async def start(self) -> None:
        """Begin working on queued jobs; called once every kind is registered."""
        ...

    async def enqueue(self, kind: str, payload: dict[str, Any]) -> None:
        """Schedule a job; returns once it is accepted, not when it is done.
        Raises UnknownJobKind for a kind without a handler."""
        ...

    def spawn(self, work: Coroutine[Any, Any, T], *, name: str) -> Awaitable[T]:
        """Run ``work`` in this process, tracked so shutdown can stop it. For work that
        holds in-memory state (a stream's event queue) and so cannot go to a queue."""
        ...

    async def close(self) -> None:
        """Stop accepting work; cancel and await what is still running."""
        ...
