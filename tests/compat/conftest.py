"""Fixtures for the compatibility tests: Letta's own SDK against a real ``engram serve``.

Everything here goes through ``letta_client`` exactly as a Letta user would call it, with the
SDK's strict response validation switched on: a missing required field or a wrongly shaped
value fails the test as ``APIResponseValidationError`` instead of surfacing later as a
``None`` attribute in user code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from letta_client import DefaultHttpxClient, Letta, NotFoundError
from letta_client.types import AgentState

from tests.fakes.fake_llm import FakeLLM
from tests.helpers import failing_on_server_errors
from tests.support import loopback
from tests.support.server import EngramServer

MODEL = "openai/gpt-4o-mini"
"""A model handle the fake LLM offers."""

AgentFactory = Callable[..., AgentState]


def letta_client_for(server: EngramServer, **options: Any) -> Letta:
    """The SDK pointed at ``server``; no retries, so a failure shows on the first answer."""
    settings: dict[str, Any] = {
        "base_url": server.base_url,
        "api_key": "unused",
        "max_retries": 0,
        "timeout": 60,
        "_strict_response_validation": True,
    }
    settings.update(options)
    settings.setdefault("http_client", DefaultHttpxClient(verify=loopback.TLS))
    return Letta(**settings)


@pytest.fixture
def counted_client(engram_server: EngramServer) -> Iterator[tuple[Letta, list[str]]]:
    """The SDK with its default retry policy (two retries), and the requests it sent: for
    tests that an answer is not retried."""
    sent: list[str] = []

    def count(request: httpx.Request) -> None:
        sent.append(f"{request.method} {request.url.path}")

    http = DefaultHttpxClient(event_hooks={"request": [count]}, verify=loopback.TLS)
    with letta_client_for(engram_server, max_retries=2, http_client=http) as sdk:
        yield sdk, sent


@pytest.fixture
def client(engram_server: EngramServer, fake_llm: FakeLLM) -> Iterator[Letta]:
    """The SDK on the session server, with the fake LLM reset; fails the test on any 5xx
    but 501 (the answer of an operation Engram does not serve)."""
    with failing_on_server_errors(lambda status: status >= 500 and status != 501) as record:
        http = DefaultHttpxClient(event_hooks={"response": [record]}, verify=loopback.TLS)
        with letta_client_for(engram_server, http_client=http) as sdk:
            yield sdk


@pytest.fixture
def make_agent(client: Letta) -> Iterator[AgentFactory]:
    """Create agents through the SDK (model defaults to the fake's); deleted afterwards."""
    created: list[str] = []

    def factory(**fields: Any) -> AgentState:
        agent = client.agents.create(**{"model": MODEL, **fields})
        created.append(agent.id)
        return agent

    yield factory
    for agent_id in created:
        with contextlib.suppress(NotFoundError):
            client.agents.delete(agent_id)
