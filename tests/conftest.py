"""Shared fixtures: the fake LLM server and a real engram server subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.fake_llm import FakeLLM
from tests.support.server import EngramServer

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture(scope="session")
def engram_server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngramServer]:
    """One server for the session; tests that kill or restart a server make their own."""
    server = EngramServer(tmp_path_factory.mktemp("engram-data"), fake_llm_server.base_url)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api(engram_server: EngramServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    """An HTTP client on the session server, with the fake LLM reset for this test."""
    with engram_server.client() as client:
        yield client


@pytest.fixture
def fresh_server(fake_llm: FakeLLM, tmp_path: Path) -> Iterator[EngramServer]:
    server = EngramServer(tmp_path / "data", fake_llm.base_url)
    yield server
    server.stop()
