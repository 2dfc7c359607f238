"""Shared fixtures: the fake LLM server, the database backends, and a real engram server
subprocess on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.fake_llm import FakeLLM
from tests.support.backends import Backend, selected_backends
from tests.support.postgres import PostgresCluster
from tests.support.server import EngramServer

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL for the session, started only if a test runs on it."""
    cluster = PostgresCluster()
    yield cluster
    cluster.close()


@pytest.fixture(scope="session", params=selected_backends())
def backend(request: pytest.FixtureRequest) -> Backend:
    """The database every server-backed test runs on; each test runs once per backend.

    Session-scoped, so pytest runs the suite on one backend, then on the other."""
    if request.param == "postgres":
        return Backend("postgres", request.getfixturevalue("postgres_cluster"))
    return Backend("sqlite")


@pytest.fixture(scope="session")
def engram_server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[EngramServer]:
    """One server for the session; tests that kill or restart a server make their own."""
    server = EngramServer(
        tmp_path_factory.mktemp("engram-data"),
        fake_llm_server.base_url,
        database_url=backend.database_url(),
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api(engram_server: EngramServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    """An HTTP client on the session server, with the fake LLM reset for this test."""
    with engram_server.client() as client:
        yield client


@pytest.fixture
def fresh_server(fake_llm: FakeLLM, tmp_path: Path, backend: Backend) -> Iterator[EngramServer]:
    server = EngramServer(tmp_path / "data", fake_llm.base_url, database_url=backend.database_url())
    yield server
    server.stop()
