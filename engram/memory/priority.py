"""Thread priorities for background work (embedding batches) that must not slow requests.

Why a module of its own: the recall indexer and the batched embedding of documents both
run the local model at a lowered priority, and the model's helper threads must run at the
priority of the thread that asked for the work. Linux schedules threads one by one, so a
thread's niceness is set on the thread itself; elsewhere, or where it is not permitted,
everything runs at normal priority.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

BACKGROUND_NICENESS = 10
"""The local model's background work yields the CPU to request handling: on a small
machine, an embedding batch competing at equal priority would show in every step."""

_background: ThreadPoolExecutor | None = None
_background_lock = threading.Lock()


def lower_thread_priority(niceness: int = BACKGROUND_NICENESS) -> None:
    """Set the calling thread's niceness (only ever raised: lowering needs privileges)."""
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        if niceness > os.getpriority(os.PRIO_PROCESS, tid):
            os.setpriority(os.PRIO_PROCESS, tid, niceness)


def thread_niceness() -> int:
    """The calling thread's niceness (0 where it cannot be read)."""
    try:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    except (AttributeError, OSError):
        return 0


def background_executor() -> ThreadPoolExecutor:
    """The process's one low-priority worker thread for batched background embedding.

    One thread: the local model computes one batch at a time anyway (and spreads a batch
    over its own helper threads, at this thread's priority).
    """
    global _background
    with _background_lock:
        if _background is None:
            _background = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="engram-embed-background",
                initializer=lower_thread_priority,
            )
        return _background
