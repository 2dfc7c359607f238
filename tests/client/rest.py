"""The REST API on the same database as an in-process client, one after the other, so a
test can set state up over HTTP (or check it), then read it through ``engram.Engram`` and
compare what both answer for the same object.

Both open the database in this process (the REST app through its ASGI interface with its
lifespan, ``fastapi.testclient``); they take turns, as a server and a client take turns on
one SQLite data dir."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engram.api.app import create_app
from engram.client.core import settings_for
from tests.fakes.fake_llm import FakeLLM
from tests.support.backends import Backend

MODEL = "openai/gpt-4o-mini"


def database_target(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A fresh database both sides open: a data dir (SQLite) or a PostgreSQL URL; model
    calls go to the fake LLM."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    url = backend.database_url()
    return url if url is not None else str(tmp_path / "data")


@contextmanager
def rest_api(target: str) -> Iterator[TestClient]:
    """The REST API on ``target``, started and stopped as a server is."""
    with TestClient(create_app(settings_for(target, {}))) as http:
        yield http


def ok(response: Any) -> Any:
    """The JSON of a 2xx answer."""
    assert response.status_code < 300, response.text
    return response.json()


def create_agent(http: TestClient, **fields: Any) -> dict[str, Any]:
    return dict(ok(http.post("/v1/agents/", json={"model": MODEL, **fields})))


def send(http: TestClient, agent_id: str, text: str) -> dict[str, Any]:
    body = {"messages": [{"role": "user", "content": text}]}
    return dict(ok(http.post(f"/v1/agents/{agent_id}/messages", json=body)))
