"""The databases the suite runs on: SQLite, and PostgreSQL from ``pgserver``.

``ENGRAM_TEST_BACKENDS`` (comma-separated, default ``sqlite,postgres``) picks which, so a
developer can run the suite on one of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tests.support.postgres import PostgresCluster

ALL_BACKENDS = ("sqlite", "postgres")


def selected_backends() -> list[str]:
    wanted = os.environ.get("ENGRAM_TEST_BACKENDS", ",".join(ALL_BACKENDS))
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ALL_BACKENDS))
    if unknown or not names:
        raise ValueError(f"ENGRAM_TEST_BACKENDS: expected some of {ALL_BACKENDS}, got {wanted!r}")
    return names


@dataclass
class Backend:
    """Where one test server keeps its data."""

    name: str
    cluster: PostgresCluster | None = None

    def database_url(self) -> str | None:
        """None on SQLite (the server's data dir holds it); a fresh database on PostgreSQL."""
        if self.cluster is None:
            return None
        return self.cluster.new_database()

    def __str__(self) -> str:
        return self.name
