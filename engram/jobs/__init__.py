"""Background work behind one interface: in-process tasks on SQLite, a queue in the database
(``engram.jobs.postgres``, imported only where PostgreSQL is) for replicas."""

from __future__ import annotations

from engram.jobs.inprocess import InProcessJobs
from engram.jobs.queue import JobHandler, JobNotStarted, JobQueue, UnknownJobKind

__all__ = ["InProcessJobs", "JobHandler", "JobNotStarted", "JobQueue", "UnknownJobKind"]
