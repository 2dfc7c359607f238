"""The database URLs users write are mapped to the drivers Engram uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engram.config import Settings, normalize_database_url


@pytest.mark.parametrize(
    ("written", "used"),
    [
        ("postgresql://u:p@db:5432/engram", "postgresql+psycopg://u:p@db:5432/engram"),
        ("postgres://u@db/engram", "postgresql+psycopg://u@db/engram"),
        ("postgresql+psycopg2://u@db/engram", "postgresql+psycopg://u@db/engram"),
        (
            "postgresql+psycopg://u@/engram?host=/run/pg",
            "postgresql+psycopg://u@/engram?host=/run/pg",
        ),
        ("sqlite+aiosqlite:////data/engram.db", "sqlite:////data/engram.db"),
        ("sqlite:////data/engram.db", "sqlite:////data/engram.db"),
    ],
)
def test_urls_get_the_driver_engram_uses(written: str, used: str) -> None:
    assert normalize_database_url(written) == used


def test_pool_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGRAM_DATABASE_URL", "postgres://u@db/engram")
    monkeypatch.setenv("ENGRAM_DB_POOL_SIZE", "3")
    monkeypatch.setenv("ENGRAM_DB_MAX_OVERFLOW", "0")
    settings = Settings()
    assert settings.resolved_database_url == "postgresql+psycopg://u@db/engram"
    assert (settings.db_pool_size, settings.db_max_overflow) == (3, 0)


def test_a_pool_of_no_connections_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGRAM_DB_POOL_SIZE", "0")
    with pytest.raises(ValueError, match="db_pool_size"):
        Settings()


def test_serve_names_a_bad_setting_and_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "ENGRAM_DATA_DIR": str(tmp_path), "ENGRAM_DB_POOL_SIZE": "0"}
    env.pop("ENGRAM_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "engram", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    output = " ".join((done.stdout + done.stderr).split())
    assert "ENGRAM_DB_POOL_SIZE" in output
    assert "Traceback" not in output
