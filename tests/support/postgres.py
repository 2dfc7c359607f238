"""A throwaway PostgreSQL (with pgvector) from the ``pgserver`` package, for tests.

One cluster serves a whole test session; every server under test gets a database of its
own, so tests stay as isolated as they are on SQLite's one file per data dir. A cluster
can also be stopped and started again, to test what a server does while it is gone.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import psycopg

_names = itertools.count(1)


class PostgresCluster:
    """One ``postgres`` process on a Unix socket in its own data directory."""

    def __init__(self, data_dir: Path | None = None) -> None:
        import pgserver

        # A short path: the socket lives in the data dir, and socket paths are short.
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="engram-pg-"))
        self._server: Any = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        info = self._server.get_postmaster_info()
        self.socket_dir = Path(info.socket_dir)

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        """A ``postgresql://`` URL as a user would write it (the server picks the driver)."""
        return f"postgresql://{user}@/{database}?host={self.socket_dir}"

    def execute(self, *statements: str, database: str = "postgres") -> None:
        """Run statements as the superuser, each outside a transaction (CREATE DATABASE)."""
        with psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname=database, autocommit=True
        ) as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]

    def create_database(self, prefix: str = "engram") -> str:
        """A fresh, empty database; returns its name."""
        name = f"{prefix}_{os.getpid()}_{next(_names)}"
        self.execute(f'CREATE DATABASE "{name}"')
        return name

    def new_database(self, prefix: str = "engram") -> str:
        """A fresh, empty database; returns its URL."""
        return self.url(self.create_database(prefix))

    def stop(self) -> None:
        """Shut the server down fast: sessions are cut, as in a crash or a restart."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        self._pg_ctl(
            "-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.data_dir / "log"),
            "start",
        )  # fmt: skip

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.data_dir, user=self._server.system_user, timeout=60)

    def close(self) -> None:
        self._server.cleanup()
        shutil.rmtree(self.data_dir, ignore_errors=True)
