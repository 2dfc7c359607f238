"""Engine, sessions and migrations.

A unit of database work is a plain function of a synchronous ``Session``, run whole on a
worker thread: ``await db.read(work)`` / ``await db.write(work)``. One thread hop per
transaction instead of one per statement (what an async driver for SQLite costs) keeps a
step's database time near a millisecond, and the event loop never waits on SQLite.

Writes run on a single thread, so SQLite's one-writer rule never makes a writer spin; they
open with ``BEGIN IMMEDIATE`` so a transaction that read first never fails when it writes.
PostgreSQL would take concurrent writers, but the write paths read, then modify (a block's
value, an agent's window cursor) trusting that no other write runs meanwhile; until they
lock what they modify, writes stay on one thread there too. Reads run in a repeatable-read
snapshot on PostgreSQL, as they do on SQLite, on as many threads as the pool is wide.
"""

from __future__ import annotations

import asyncio
import errno
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Engine, Executable, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

T = TypeVar("T")


class Database:
    """The engine of one server process and the threads its transactions run on."""

    def __init__(
        self,
        url: str,
        *,
        readers: int = 4,
        pool_size: int = 8,
        max_overflow: int = 8,
        pool_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = make_engine(url, pool_size=readers + 2)
            read_options: dict[str, Any] = {}
        else:
            self.engine = make_engine(
                url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout
            )
            read_options = {"isolation_level": "REPEATABLE READ"}
            readers = max(1, pool_size - 1)  # one connection stays for the writer
        self._sessions = sessionmaker(
            self.engine.execution_options(**read_options), expire_on_commit=False
        )
        self._writer_sessions = sessionmaker(
            self.engine.execution_options(engram_begin="IMMEDIATE"), expire_on_commit=False
        )
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="engram-db-read")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="engram-db-write")

    async def read(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a read-only snapshot."""
        return await self._run(self._readers, self._sessions, work, commit=False)

    async def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` as one transaction: all of it commits, or none of it does."""
        return await self._run(self._writer, self._writer_sessions, work, commit=True)

    async def _run(
        self,
        pool: ThreadPoolExecutor,
        sessions: sessionmaker[Session],
        work: Callable[[Session], T],
        *,
        commit: bool,
    ) -> T:
        def unit() -> T:
            with sessions() as session:
                if not commit:
                    return work(session)
                with session.begin():
                    return work(session)

        return await asyncio.get_running_loop().run_in_executor(pool, unit)

    async def dispose(self) -> None:
        # A read still running on a reader thread (its caller may be gone, cancelled at
        # shutdown) holds a connection: it is let finish first, or it would hand that
        # connection back to a pool already disposed, where it stays open until the
        # garbage collector finds it. Reads not yet started are dropped.
        await asyncio.to_thread(self._readers.shutdown, wait=True, cancel_futures=True)
        # A vector index still being built (on a connection of its own) is let finish
        # rather than cut off by the process ending: an interrupted build leaves an
        # invalid index behind for the next start to drop.
        await asyncio.to_thread(join_index_builds, INDEX_BUILD_WAIT_SECONDS)
        # Queued behind any write still running on the one writer thread.
        await asyncio.get_running_loop().run_in_executor(self._writer, self.engine.dispose)
        self._writer.shutdown(wait=False)


INDEX_BUILD_THREAD = "engram-hnsw-"
"""The name prefix of the threads building a PostgreSQL vector index (store/pg_vectors.py)."""
INDEX_BUILD_WAIT_SECONDS = 30.0


def join_index_builds(timeout: float) -> None:
    """Wait (at most ``timeout`` seconds each) for the vector index builds under way."""
    for thread in threading.enumerate():
        if thread.name.startswith(INDEX_BUILD_THREAD):
            thread.join(timeout)


def make_engine(
    url: str, *, pool_size: int = 5, max_overflow: int | None = None, pool_timeout: float = 30.0
) -> Engine:
    overflow = pool_size if max_overflow is None else max_overflow
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=overflow,
        )
        _install_sqlite_hooks(engine)
        return engine
    # pool_pre_ping: a connection the server dropped (a restart) is replaced before use
    # instead of failing the request that drew it. A short connect timeout turns an
    # unreachable server into a prompt 503 rather than a request hanging.
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "engram"},
    )


CONNECT_TIMEOUT_SECONDS = 5


def rows_changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and return how many rows it changed.

    ``Session.execute`` is typed to return a plain ``Result``; for a data-changing statement
    it is a ``CursorResult``, the one that carries the row count.
    """
    result = cast("CursorResult[Any]", session.execute(statement))
    return result.rowcount or 0


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) means the database cannot be reached (down,
    restarting, or out of connections), as opposed to a fault in the statement: the former
    is worth a retry."""
    seen: BaseException | None = error
    for _ in range(8):  # the chain of causes is short; a cycle must not hang us
        if seen is None:
            return False
        if _unavailable(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def storage_full(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the disk under the database is full:
    SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100), or the filesystem's ENOSPC. Not
    a fault in the request: it succeeds once space is freed."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return False
        if _full(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


SQLITE_FULL = 13
DISK_FULL_SQLSTATE = "53100"


def _full(error: BaseException) -> bool:
    if isinstance(error, OSError):
        return error.errno == errno.ENOSPC
    orig = error.orig if isinstance(error, exc.DBAPIError) else error
    if getattr(orig, "sqlstate", None) == DISK_FULL_SQLSTATE:
        return True
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return code == SQLITE_FULL or "database or disk is full" in str(orig)
    return False


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, exc.TimeoutError):
        return True  # no pooled connection came free in time
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    module = type(orig).__module__ if orig is not None else ""
    # psycopg reports connection failures, and the server shutting down, as
    # OperationalError; SQLite's OperationalError also covers SQL faults, so it is not one.
    return module.startswith("psycopg") and isinstance(error, exc.OperationalError)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("engram_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """What schema comparison looks at: full-text artifacts (SQLite's FTS5 tables,
    PostgreSQL's tsvector columns and their indexes) and the on-demand vector indexes are
    raw SQL, not models; the job queue's tables (PostgreSQL only) are the queue library's."""
    if name is None:
        return True
    if name.startswith(JOB_QUEUE_PREFIX):
        return False
    if type_ == "table":
        return "_fts" not in name
    if type_ == "column":
        return name != FULL_TEXT_COLUMN
    if type_ == "index":
        return not name.startswith(DIALECT_ONLY_INDEX_PREFIXES)
    return True


JOB_QUEUE_PREFIX = "procrastinate_"
"""PostgreSQL only: the tables, indexes and functions of the job queue (migration 0010)."""

FULL_TEXT_COLUMN = "search_tsv"
"""PostgreSQL only: the generated tsvector column of ``messages`` and ``passages``."""

DIALECT_ONLY_INDEX_PREFIXES = ("ix_fts_", "ix_hnsw_")


def migrate(url: str) -> None:
    """Bring the schema to the newest revision; safe to call on every start."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config interpolates "%": a URL-escaped password or socket path must survive.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
