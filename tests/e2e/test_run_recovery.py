"""Queued runs survive their server: a run accepted by ``/messages/async`` that had not
started when the server was killed (SIGKILL) or stopped (SIGTERM) runs after the restart,
with its own input;
the turn that was under way at the kill is failed, and a plain request that was waiting
for its agent is failed as one whose client is gone."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes import FakeLLM, reply
from tests.support.backends import Backend
from tests.support.server import EngramServer

pytestmark = pytest.mark.slow  # see tests/conftest.py

MODEL = "openai/gpt-4o-mini"
RECOVERY = {"ENGRAM_WORKER_DEAD_AFTER_SECONDS": "15"}
"""PostgreSQL: a killed server's taken jobs go back to the queue after 15 s, not 30."""
RESUME_TIMEOUT = 120.0
"""On PostgreSQL the dead worker's jobs go back to the queue once it has missed its
heartbeats for 30 s, looked for every 10 s."""


def send_async(client: httpx.Client, agent_id: str, text: str) -> dict[str, Any]:
    response = client.post(
        f"/v1/agents/{agent_id}/messages/async",
        json={"messages": [{"role": "user", "content": text}]},
    )
    assert response.status_code == 200, response.text
    return response.json()


def wait_until_ended(client: httpx.Client, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/v1/runs/{run_id}").json()
        if run["completed_at"] is not None or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def wait_for_status(client: httpx.Client, run_id: str, status: str) -> None:
    deadline = time.monotonic() + 10
    while client.get(f"/v1/runs/{run_id}").json()["status"] != status:
        assert time.monotonic() < deadline, f"run {run_id} never became {status}"
        time.sleep(0.05)


def user_texts(client: httpx.Client, agent_id: str) -> list[str]:
    history = client.get(
        f"/v1/agents/{agent_id}/messages", params={"order": "asc", "limit": 1000}
    ).json()
    return [m["content"] for m in history if m["message_type"] == "user_message"]


@pytest.fixture
def server(fake_llm: FakeLLM, tmp_path: Path, backend: Backend) -> Any:
    engram = EngramServer(
        tmp_path / "data", fake_llm.base_url, RECOVERY, database_url=backend.database_url()
    )
    engram.start()
    yield engram
    engram.stop()


@pytest.mark.parametrize("stop", ["kill", "stop"])
def test_a_queued_run_not_started_at_a_kill_runs_after_the_restart_with_its_input(
    server: EngramServer, fake_llm: FakeLLM, stop: str
) -> None:
    """``kill``: SIGKILL, nothing runs on the way out; ``stop``: SIGTERM, a graceful stop."""
    # The first turn's model call is slow, so the second run waits in the queue behind it.
    fake_llm.script(reply.text("never delivered", delay=30))
    fake_llm.fallback = reply.echo("Re: ")
    with server.client() as client:
        agent_id = client.post("/v1/agents/", json={"model": MODEL}).json()["id"]
        running = send_async(client, agent_id, "the first message")
        fake_llm.wait_for_requests(1, timeout=20)
        queued = send_async(client, agent_id, "the queued message")
        wait_for_status(client, running["id"], "running")
        assert client.get(f"/v1/runs/{queued['id']}").json()["status"] == "created"

    server.kill() if stop == "kill" else server.stop()
    server.start()

    with server.client() as client:
        resumed = wait_until_ended(client, queued["id"], RESUME_TIMEOUT)
        assert (resumed["status"], resumed["stop_reason"]) == ("completed", "end_turn"), resumed
        said = client.get(f"/v1/runs/{queued['id']}/messages").json()
        assert [(m["message_type"], m.get("content")) for m in said] == [
            ("user_message", "the queued message"),
            ("assistant_message", "Re: the queued message"),
        ]
        interrupted = wait_until_ended(client, running["id"], RESUME_TIMEOUT)
        if stop == "kill":
            assert (interrupted["status"], interrupted["stop_reason"]) == ("failed", "error")
            assert "stopped while this run was in progress" in interrupted["metadata"]["error"]
        else:  # a graceful stop ends the turn under way as cancelled
            assert (interrupted["status"], interrupted["stop_reason"]) == (
                "cancelled",
                "cancelled",
            )
        # The interrupted turn committed nothing and was not run again; the queued one ran once.
        assert user_texts(client, agent_id) == ["the queued message"]
        assert client.get(f"/v1/runs/{running['id']}/steps").json() == []
        assert len(client.get(f"/v1/runs/{queued['id']}/steps").json()) == 1
        asked = [r.last_user_text for r in fake_llm.chat_requests]
        assert asked == ["the first message", "the queued message"]
        # The agent goes on as before.
        again = client.post(
            f"/v1/agents/{agent_id}/messages",
            json={"messages": [{"role": "user", "content": "still there?"}]},
        )
        assert again.status_code == 200, again.text
        assert again.json()["messages"][-1]["content"] == "Re: still there?"


BUSY_TIMEOUT = 8.0
"""How long the waiting request would wait; it must still be waiting at the kill."""
ORPHAN_GRACE = 3.0
"""How long past the busy timeout a waiting request is known to have lost its server."""


def queue_behind_a_slow_turn(
    server: EngramServer, fake_llm: FakeLLM, agent_id: str, *, plain: bool
) -> dict[str, Any]:
    """Start a slow turn, then send a second message (a plain request, or a queued run) that
    waits behind it; returns the second one's run, still ``created``."""
    fake_llm.script(reply.text("never delivered", delay=30))
    with server.client() as client:
        running = send_async(client, agent_id, "the first message")
        fake_llm.wait_for_requests(1, timeout=20)
        if plain:

            def send_plain() -> None:
                with contextlib.suppress(httpx.HTTPError), server.client() as other:
                    other.post(
                        f"/v1/agents/{agent_id}/messages",
                        json={"messages": [{"role": "user", "content": "a waiting request"}]},
                    )

            threading.Thread(target=send_plain, daemon=True).start()
        else:
            send_async(client, agent_id, "the queued message")
        deadline = time.monotonic() + 10
        while True:
            runs = client.get("/v1/runs/", params={"agent_id": agent_id}).json()
            waiting = [r for r in runs if r["id"] != running["id"]]
            if waiting or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert [r["status"] for r in waiting] == ["created"]
        return waiting[0]


def test_a_plain_request_waiting_at_a_kill_is_failed_after_the_restart(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend
) -> None:
    server = EngramServer(
        tmp_path / "data",
        fake_llm.base_url,
        {
            "ENGRAM_AGENT_BUSY_TIMEOUT_SECONDS": str(BUSY_TIMEOUT),
            "ENGRAM_ORPHAN_GRACE_SECONDS": str(ORPHAN_GRACE),
        },
        database_url=backend.database_url(),
    )
    server.start()
    try:
        with server.client() as client:
            agent_id = client.post("/v1/agents/", json={"model": MODEL}).json()["id"]
        waiting = queue_behind_a_slow_turn(server, fake_llm, agent_id, plain=True)
        server.kill()
        if backend.name == "postgres":
            # Replicas share the database: a waiting request is known dead once any wait
            # would have ended, the busy timeout plus the orphan grace.
            time.sleep(BUSY_TIMEOUT + ORPHAN_GRACE + 2)
        server.start()

        with server.client() as client:
            failed = client.get(f"/v1/runs/{waiting['id']}").json()
            assert (failed["status"], failed["stop_reason"]) == ("failed", "error")
            assert "stopped before this run started" in failed["metadata"]["error"]
            assert failed["completed_at"] is not None
            assert user_texts(client, agent_id) == []
    finally:
        server.stop()


def test_a_queued_run_without_its_input_is_failed_saying_it_cannot_resume(
    server: EngramServer, fake_llm: FakeLLM, backend: Backend
) -> None:
    """A run queued by a version that did not keep the input (its ``turn_input`` empty)."""
    if backend.name != "sqlite":
        pytest.skip("with PostgreSQL the input also rides in the queued job")
    with server.client() as client:
        agent_id = client.post("/v1/agents/", json={"model": MODEL}).json()["id"]
    queued = queue_behind_a_slow_turn(server, fake_llm, agent_id, plain=False)
    server.kill()
    with sqlite3.connect(server.data_dir / "engram.db") as db:
        db.execute("UPDATE runs SET turn_input = NULL WHERE id = ?", (queued["id"],))
    server.start()

    with server.client() as client:
        failed = client.get(f"/v1/runs/{queued['id']}").json()
        assert (failed["status"], failed["stop_reason"]) == ("failed", "error")
        assert "has no input to resume with" in failed["metadata"]["error"]
        assert user_texts(client, agent_id) == []
