"""Shared fixtures: the fake LLM server, the database backends, the session's engram server
on each backend (served from this process), and fresh server processes for the tests that
stop, kill or restart one."""

from __future__ import annotations

import os

# As ``engram serve`` does: the in-process servers' embeddings run in worker threads beside
# their event loops, and BLAS spinning up a thread per core makes both slower on small
# machines. Set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engram.memory.local_embedding import shared_local_model
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.web import FakeWeb
from tests.support.backends import Backend, selected_backends
from tests.support.inprocess import InProcessServer
from tests.support.postgres import PostgresCluster
from tests.support.server import EngramServer

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under several worker processes, each worker's share begins with its part of the
    ``slow`` tests, so their waits overlap the rest of the suite from the start rather
    than ending the run on one worker. The work-stealing scheduler (``--dist worksteal``)
    hands each worker one contiguous slice of this order first: the slow tests are dealt
    to the head of each slice, and the rest keeps pytest's order (grouped by database)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2:
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    rest = [item for item in items if not item.get_closest_marker("slow")]
    hands: list[list[pytest.Item]] = [slow[index::workers] for index in range(workers)]
    items[:] = []
    for index, hand in enumerate(hands):
        start, end = index * len(rest) // workers, (index + 1) * len(rest) // workers
        items += [*hand, *rest[start:end]]


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
) -> Iterator[InProcessServer]:
    """One server for the session, served from this process (use-case tests need HTTP,
    not a process); tests that kill or restart a server make their own."""
    shared_local_model().warm_up_in_background()  # every in-process server shares it
    server = InProcessServer(
        tmp_path_factory.mktemp("engram-data"),
        fake_llm_server.base_url,
        database_url=backend.database_url(),
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api(engram_server: InProcessServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    """An HTTP client on the session server, with the fake LLM reset for this test."""
    with engram_server.client() as client:
        yield client


@pytest.fixture
def fresh_server(fake_llm: FakeLLM, tmp_path: Path, backend: Backend) -> Iterator[EngramServer]:
    server = EngramServer(tmp_path / "data", fake_llm.base_url, database_url=backend.database_url())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def web() -> Iterator[FakeWeb]:
    """Pages and search APIs on a loopback port (tests/fakes/web.py), for the web tools."""
    fake = FakeWeb()
    yield fake
    fake.close()
