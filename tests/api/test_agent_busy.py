"""One turn at a time per agent: a second request waits for the first, within a bound, or
is refused at once when the client asks (``if_busy=reject``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import MODEL
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply
from tests.support.backends import Backend
from tests.support.server import EngramServer, serving


@pytest.fixture(scope="module")
def server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[Any]:
    # Long enough that a first turn on a loaded machine (the embedding model loading, two
    # cores shared with other suites) still ends inside it.
    env = {"ENGRAM_AGENT_BUSY_TIMEOUT_SECONDS": "4"}
    with serving(
        tmp_path_factory.mktemp("busy"),
        fake_llm_server.base_url,
        env,
        database_url=backend.database_url(),
        in_process=True,
    ) as engram:
        yield engram


@pytest.fixture
def client(server: EngramServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def new_agent(client: httpx.Client) -> str:
    response = client.post("/v1/agents/", json={"model": MODEL})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def send(client: httpx.Client, agent_id: str, text: str, **params: str) -> httpx.Response:
    return client.post(
        f"/v1/agents/{agent_id}/messages",
        params=params,
        json={"messages": [{"role": "user", "content": text}]},
    )


class InBackground:
    """A message sent on another thread; ``answer()`` waits for its response."""

    def __init__(self, client: httpx.Client, agent_id: str, text: str) -> None:
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._send, args=(client, agent_id, text))
        self._thread.start()

    def _send(self, client: httpx.Client, agent_id: str, text: str) -> None:
        self._response = send(client, agent_id, text)

    def answer(self) -> httpx.Response:
        self._thread.join()
        assert self._response is not None
        return self._response


def wait_for_model_call(fake_llm: FakeLLM, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(fake_llm.chat_requests) < count and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_second_turn_waits_for_the_first_and_history_stays_in_order(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(client)
    fake_llm.script(reply.text("First answer.", delay=0.6), reply.text("Second answer."))
    first = InBackground(client, agent_id, "first")
    wait_for_model_call(fake_llm, 1)

    second = send(client, agent_id, "second")

    assert first.answer().status_code == 200 and second.status_code == 200
    history = client.get(f"/v1/agents/{agent_id}/messages", params={"order": "asc"}).json()
    said = [
        m.get("content")
        for m in history
        if m["message_type"] in ("user_message", "assistant_message")
    ]
    assert said[-4:] == ["first", "First answer.", "second", "Second answer."]


def test_a_busy_agent_refuses_at_once_when_asked(client: httpx.Client, fake_llm: FakeLLM) -> None:
    agent_id = new_agent(client)
    fake_llm.script(reply.text("Slow answer.", delay=1.0))
    first = InBackground(client, agent_id, "first")
    wait_for_model_call(fake_llm, 1)

    started = time.monotonic()
    refused = send(client, agent_id, "second", if_busy="reject")

    assert refused.status_code == 409
    assert agent_id in refused.json()["detail"] and "if_busy" in refused.json()["detail"]
    assert time.monotonic() - started < 0.9
    assert first.answer().status_code == 200
    users = [
        m
        for m in client.get(f"/v1/agents/{agent_id}/messages").json()
        if m["message_type"] == "user_message"
    ]
    assert [m["content"] for m in users] == ["first"]


def test_waiting_is_bounded(client: httpx.Client, fake_llm: FakeLLM) -> None:
    agent_id = new_agent(client)
    fake_llm.script(reply.text("Very slow answer.", delay=6.0))
    first = InBackground(client, agent_id, "first")
    wait_for_model_call(fake_llm, 1)

    started = time.monotonic()
    refused = send(client, agent_id, "second")

    assert refused.status_code == 409
    assert "4 s" in refused.json()["detail"]
    assert 3.8 < time.monotonic() - started < 5.9
    assert first.answer().status_code == 200


def test_an_unknown_busy_option_is_a_422_naming_it(client: httpx.Client) -> None:
    agent_id = new_agent(client)
    response = send(client, agent_id, "hi", if_busy="maybe")
    assert response.status_code == 422
    assert "if_busy" in response.text


@pytest.mark.parametrize("path", ["messages/stream", "messages/async"])
def test_streams_and_queued_runs_refuse_a_busy_agent_before_starting(
    client: httpx.Client, fake_llm: FakeLLM, path: str
) -> None:
    agent_id = new_agent(client)
    # Held long enough that the first turn is surely still running when the second
    # request is read, however loaded the machine (with 1 s it once was not).
    fake_llm.script(reply.text("Slow answer.", delay=3.0))
    first = InBackground(client, agent_id, "first")
    wait_for_model_call(fake_llm, 1)

    refused = client.post(
        f"/v1/agents/{agent_id}/{path}",
        params={"if_busy": "reject"},
        json={"messages": [{"role": "user", "content": "second"}]},
    )

    assert refused.status_code == 409, refused.text
    assert first.answer().status_code == 200
    # Only the first turn's run exists: the refused request recorded none.
    assert len(client.get("/v1/runs/", params={"agent_id": agent_id}).json()) == 1
