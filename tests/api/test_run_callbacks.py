"""A background run's ``callback_url``: the ended run is posted there, failed attempts are
tried again a bounded number of times, redirects are not followed, and loopback or private
addresses are refused unless the operator allows them. The outcome shows on the run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.api.conftest import MODEL
from tests.compat.conftest import letta_client_for
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply
from tests.support.backends import Backend
from tests.support.server import RunningServer, serving


class Receiver:
    """A callback endpoint on a loopback port: answers each POST with the next scripted
    status (200 once the script runs out) and keeps what it was sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                receiver.received.append(json.loads(self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("location", "http://127.0.0.1:9/elsewhere")
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/done"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[RunningServer]:
    """Loopback callbacks allowed (the receiver lives there), short attempts."""
    env = {
        "ENGRAM_CALLBACK_PRIVATE_ADDRESSES": "true",
        "ENGRAM_CALLBACK_TIMEOUT_SECONDS": "2",
        "ENGRAM_CALLBACK_ATTEMPTS": "3",
    }
    with serving(
        tmp_path_factory.mktemp("callbacks"),
        fake_llm_server.base_url,
        env,
        database_url=backend.database_url(),
        in_process=True,
    ) as engram:
        yield engram


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def client(server: RunningServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def agent_id(http: httpx.Client) -> str:
    response = http.post("/v1/agents/", json={"model": MODEL})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def called_back(http: httpx.Client, run_id: str) -> dict[str, Any]:
    """The run once its callback outcome is kept."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = http.get(f"/v1/runs/{run_id}").json()
        if run["callback_sent_at"] is not None:
            return dict(run)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never called back")


def test_the_ended_run_is_posted_to_its_callback_url(
    server: RunningServer, fake_llm: FakeLLM, receiver: Receiver
) -> None:
    fake_llm.script(reply.text("Done in the background."))
    with letta_client_for(server) as sdk:
        agent = sdk.agents.create(model=MODEL)
        run = sdk.agents.messages.create_async(agent.id, input="hi", callback_url=receiver.url)
        assert run.callback_url == receiver.url
        with server.client() as http:
            ended = called_back(http, run.id)
        kept = sdk.runs.retrieve(run.id)

    assert kept.callback_status_code == 200
    assert kept.callback_error is None
    assert kept.callback_url == receiver.url
    assert ended["status"] == "completed"
    (posted,) = receiver.received
    assert posted["id"] == run.id
    assert posted["agent_id"] == agent.id
    assert posted["status"] == "completed"
    assert posted["stop_reason"] == "end_turn"
    assert posted["completed_at"] is not None


def test_a_failing_callback_is_tried_again_a_bounded_number_of_times(
    client: httpx.Client, fake_llm: FakeLLM, receiver: Receiver
) -> None:
    fake_llm.script(reply.text("Done."))
    receiver.statuses = [503, 503, 503, 503]
    agent = agent_id(client)

    run = client.post(
        f"/v1/agents/{agent}/messages/async", json={"input": "hi", "callback_url": receiver.url}
    ).json()
    ended = called_back(client, run["id"])

    assert len(receiver.received) == 3  # ENGRAM_CALLBACK_ATTEMPTS
    assert ended["callback_status_code"] == 503
    assert "503" in ended["callback_error"]
    assert ended["status"] == "completed"  # the callback never changes the run's outcome


def test_a_callback_recovers_on_a_later_attempt(
    client: httpx.Client, fake_llm: FakeLLM, receiver: Receiver
) -> None:
    fake_llm.script(reply.text("Done."))
    receiver.statuses = [500]
    agent = agent_id(client)

    run = client.post(
        f"/v1/agents/{agent}/messages/async", json={"input": "hi", "callback_url": receiver.url}
    ).json()
    ended = called_back(client, run["id"])

    assert len(receiver.received) == 2
    assert ended["callback_status_code"] == 200
    assert ended["callback_error"] is None


def test_a_redirect_is_not_followed(
    client: httpx.Client, fake_llm: FakeLLM, receiver: Receiver
) -> None:
    fake_llm.script(reply.text("Done."))
    receiver.statuses = [307]
    agent = agent_id(client)

    run = client.post(
        f"/v1/agents/{agent}/messages/async", json={"input": "hi", "callback_url": receiver.url}
    ).json()
    ended = called_back(client, run["id"])

    assert len(receiver.received) == 1
    assert ended["callback_status_code"] == 307
    assert "redirect" in ended["callback_error"]


def test_a_bad_callback_url_is_refused_naming_it(client: httpx.Client, fake_llm: FakeLLM) -> None:
    agent = agent_id(client)

    response = client.post(
        f"/v1/agents/{agent}/messages/async",
        json={"input": "hi", "callback_url": "ftp://example.com/x"},
    )

    assert response.status_code == 422, response.text
    assert "callback_url" in response.text
    assert client.get("/v1/runs/", params={"agent_id": agent}).json() == []


def test_a_private_address_is_refused_unless_allowed(
    api: httpx.Client, fake_llm: FakeLLM, receiver: Receiver
) -> None:
    """The session's server keeps the default: its neighbours are not called."""
    fake_llm.script(reply.text("Done."))
    agent = agent_id(api)

    run = api.post(
        f"/v1/agents/{agent}/messages/async", json={"input": "hi", "callback_url": receiver.url}
    ).json()
    ended = called_back(api, run["id"])

    assert receiver.received == []
    assert ended["callback_status_code"] is None
    assert "ENGRAM_CALLBACK_PRIVATE_ADDRESSES" in ended["callback_error"]
