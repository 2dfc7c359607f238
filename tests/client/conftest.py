"""The in-process client (``engram.Engram``) on a real data dir, its model calls going to
the scripted fake LLM over HTTP, next to a REST server on the same kind of database so a
test can compare what both answer for the same object."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engram import Engram
from tests.fakes.fake_llm import FakeLLM
from tests.support.backends import Backend

MODEL = "openai/gpt-4o-mini"


@pytest.fixture
def engram_client(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engram]:
    """A client opened on a fresh data dir (SQLite) or a fresh PostgreSQL database."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    url = backend.database_url()
    with Engram.open(url if url is not None else tmp_path / "data") as client:
        yield client
