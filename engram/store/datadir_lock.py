"""One server per SQLite data dir: an exclusive lock held for the life of the process.

Two servers on one SQLite file would each believe they are the only one: each fails the
other's in-flight runs as interrupted at start, and both run turns of the same agent at
once on stale context. An advisory ``flock`` on a file in the data dir is taken before any
start-up work; the kernel releases it when the process ends however it ends (SIGKILL
included), so a crash never leaves a stale lock behind. The holder writes its PID into
the file so that the one refused can say who holds it.

PostgreSQL deployments take no lock: several replicas on one database are supported.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_FILE = "engram.lock"


class DataDirUnusable(Exception):
    """The data dir cannot be created, or written to; the message names it and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot use data dir {path}: {reason}")
        self.path = path
        self.reason = reason


class DataDirLocked(Exception):
    """Another process (a running server, or a ``db migrate``) holds the data dir."""

    def __init__(self, path: Path, holder: int | None) -> None:
        who = f"process {holder}" if holder is not None else "another process"
        super().__init__(
            f"data dir {path} is in use by {who} (an engram server or migration); stop it "
            "first, or give this one another data dir (--data-dir or ENGRAM_DATA_DIR)"
        )
        self.path = path
        self.holder = holder


class DataDirLock:
    """The held lock; released by ``release()`` or when the process exits."""

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path = path
        self._handle: IO[str] | None = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the descriptor drops the flock
            self._handle = None


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data dir if missing; raise ``DataDirUnusable`` when that is impossible."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirUnusable(data_dir, _reason(exc)) from None
    if not data_dir.is_dir():
        raise DataDirUnusable(data_dir, "it exists and is not a directory")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (``sqlite:///path``); None for other databases and for an
    in-memory SQLite, which no other process can open."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def lock_database_file(database: Path) -> DataDirLock:
    """Lock the SQLite file ``database`` for this process: ``engram.db`` is guarded by
    ``engram.lock`` beside it (so a data dir by its ``engram.lock``)."""
    return lock_data_dir(database.parent, database.with_suffix(".lock").name)


def lock_data_dir(data_dir: Path, lock_name: str = LOCK_FILE) -> DataDirLock:
    """Create the data dir if needed and lock it for this process.

    Raises ``DataDirLocked`` (naming the holder's PID) when another process holds it, and
    ``DataDirUnusable`` when the dir cannot be created or written."""
    prepare_data_dir(data_dir)
    path = data_dir / lock_name
    try:
        # "a+": never truncate before we hold the lock; the holder's PID must stay readable.
        handle = path.open("a+", encoding="utf-8")
    except OSError as exc:
        raise DataDirUnusable(data_dir, _reason(exc)) from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(handle)
        handle.close()
        raise DataDirLocked(data_dir, holder) from None
    except OSError as exc:
        handle.close()
        raise DataDirUnusable(data_dir, _reason(exc)) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
    except OSError as exc:  # a full or read-only filesystem shows here
        handle.close()
        raise DataDirUnusable(data_dir, _reason(exc)) from None
    return DataDirLock(data_dir, handle)


def _read_holder(handle: IO[str]) -> int | None:
    try:
        handle.seek(0)
        text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    return exc.strerror or str(exc)
