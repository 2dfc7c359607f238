"""Engine, sessions and migrations.

A unit of database work is a plain function of a synchronous ``Session``, run whole on a
worker thread: ``await db.read(work)`` / ``await db.write(work)``. One thread hop per
transaction instead of one per statement (what an async driver for SQLite costs) keeps a
step's database time near a millisecond, and the event loop never waits on SQLite.

Writes run on a single thread, so SQLite's one-writer rule never makes a writer spin; they
open with ``BEGIN IMMEDIATE`` so a transaction that read first never fails when it writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

T = TypeVar("T")


class Database:
    """The engine of one server process and the threads its transactions run on."""

    def __init__(self, url: str, *, readers: int = 4) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = make_engine(url, pool_size=readers + 2)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
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
        await asyncio.get_running_loop().run_in_executor(self._writer, self.engine.dispose)
        self._readers.shutdown(wait=False)
        self._writer.shutdown(wait=False)


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _install_sqlite_hooks(engine)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


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
    """What schema comparison looks at: full-text tables are raw SQL, not models."""
    return not (type_ == "table" and name is not None and "_fts" in name)


def migrate(url: str) -> None:
    """Bring the schema to the newest revision; safe to call on every start."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
