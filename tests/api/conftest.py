"""Fixtures and helpers shared by the REST API tests.

Every test here talks to a real Engram server over HTTP (the session's, served from the
test process; see tests/conftest.py). The ``api`` client is wrapped so that any 500 answer
fails the test that caused it: a 500 is never the right answer to a client, whatever it
sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.fake_llm import FakeLLM
from tests.helpers import failing_on_server_errors
from tests.support.server import EngramServer

MODEL = "openai/gpt-4o-mini"
"""The model handle the fake LLM offers."""

AgentFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def api(engram_server: EngramServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    """The session server's client (fake LLM reset); fails the test on any 500 answer."""
    with (
        failing_on_server_errors() as record,
        engram_server.client(event_hooks={"response": [record]}) as client,
    ):
        yield client


@pytest.fixture
def make_agent(api: httpx.Client) -> Iterator[AgentFactory]:
    """Create agents with sensible defaults; the ones still alive are deleted afterwards."""
    created: list[str] = []

    def factory(**fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"model": MODEL, **fields}
        response = api.post("/v1/agents/", json=body)
        assert response.status_code == 200, response.text
        agent = response.json()
        created.append(agent["id"])
        return agent

    yield factory
    for agent_id in created:
        api.delete(f"/v1/agents/{agent_id}")


def detail_text(response: httpx.Response) -> str:
    """The error ``detail`` as one string, whether it is a message or a validation list."""
    detail = response.json().get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for error in detail:
            loc = ".".join(str(part) for part in error.get("loc", []))
            parts.append(f"{loc}: {error.get('msg', '')}")
        return "\n".join(parts)
    return str(detail)


def error_fields(response: httpx.Response) -> list[str]:
    """The field names a 422 points at (last element of each ``loc``), or the prefix of a
    runtime error's ``'<field>: message'`` detail."""
    detail = response.json().get("detail")
    if isinstance(detail, list):
        return [str(error["loc"][-1]) for error in detail if error.get("loc")]
    if isinstance(detail, str) and ":" in detail:
        return [detail.split(":", 1)[0].strip()]
    return []


def list_all(api: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a cursor-paginated list endpoint (ascending by creation)."""
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        query = {**params, "limit": 1000}
        if after is not None:
            query["after"] = after
        response = api.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page)
        if len(page) < 1000:
            return items
        after = page[-1]["id"]


def block_count(api: httpx.Client) -> int:
    return len(list_all(api, "/v1/blocks/", order="asc"))


def agent_count(api: httpx.Client) -> int:
    response = api.get("/v1/agents/count")
    assert response.status_code == 200, response.text
    return int(response.json())


def message_count(api: httpx.Client, agent_id: str) -> int:
    response = api.get(f"/v1/agents/{agent_id}/messages", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return len(response.json())


def passage_count(api: httpx.Client, agent_id: str) -> int:
    response = api.get(f"/v1/agents/{agent_id}/archival-memory", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return len(response.json())


def core_memory(api: httpx.Client, agent_id: str) -> dict[str, str]:
    """label -> value of the agent's blocks as the API shows them."""
    response = api.get(f"/v1/agents/{agent_id}/core-memory/blocks")
    assert response.status_code == 200, response.text
    return {block["label"]: block["value"] for block in response.json()}


def create_tool(api: httpx.Client, source: str, **fields: Any) -> dict[str, Any]:
    """Create (or replace, by function name) a custom tool from its source."""
    response = api.put("/v1/tools/", json={"source_code": source, **fields})
    assert response.status_code == 200, response.text
    return response.json()


def send_input(api: httpx.Client, agent_id: str, text: str) -> dict[str, Any]:
    """One user message to the agent; the whole response body."""
    response = api.post(f"/v1/agents/{agent_id}/messages", json={"input": text})
    assert response.status_code == 200, response.text
    return response.json()


def search_messages(api: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    response = api.post("/v1/messages/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()
