"""Background work: in-process tasks now; a Postgres-backed queue later, behind one interface."""

from __future__ import annotations

from engram.jobs.inprocess import InProcessJobs
from engram.jobs.queue import JobHandler, JobNotStarted, JobQueue, UnknownJobKind

__all__ = ["InProcessJobs", "JobHandler", "JobNotStarted", "JobQueue", "UnknownJobKind"]
