"""Two replicas on one PostgreSQL: one turn at a time per agent across both, queued turns
run by whichever replica's worker is free, and cancellation from either replica."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeLLM, reply
from tests.helpers import conversation as history
from tests.support.postgres import PostgresCluster
from tests.support.server import EngramServer

pytestmark = pytest.mark.slow  # see tests/conftest.py

MODEL = "openai/gpt-4o-mini"
MESSAGES = 64


@pytest.fixture
def replicas(
    fake_llm: FakeLLM, tmp_path: Path, postgres_cluster: PostgresCluster
) -> Iterator[list[EngramServer]]:
    database = postgres_cluster.new_database()
    servers = [
        EngramServer(
            tmp_path / f"replica-{n}",
            fake_llm.base_url,
            # A dead replica's taken jobs go back to the queue after 15 s, not 30.
            {"ENGRAM_WORKER_DEAD_AFTER_SECONDS": "15"},
            database_url=database,
        )
        for n in (1, 2)
    ]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def test_concurrent_messages_across_replicas_run_once_each_in_order(
    replicas: list[EngramServer], fake_llm: FakeLLM
) -> None:
    # Every answer names the message it answers, and the model is slow enough that turns
    # overlap: any two turns of the agent running at once would interleave the history.
    echo = reply.echo("Re: ")
    fake_llm.fallback = lambda request: replace(echo(request), delay=0.02)
    clients = [server.client() for server in replicas]
    agent_id = clients[0].post("/v1/agents/", json={"model": MODEL}).json()["id"]

    def send(n: int) -> httpx.Response:
        return clients[n % 2].post(
            f"/v1/agents/{agent_id}/messages",
            json={"messages": [{"role": "user", "content": f"message {n}"}]},
        )

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, range(MESSAGES)))

    assert [answer.status_code for answer in answers] == [200] * MESSAGES
    said = [
        (m["message_type"], m["content"])
        for m in history(clients[1], agent_id)
        if m["message_type"] in ("user_message", "assistant_message")
    ]
    assert len(said) == 2 * MESSAGES
    users = [text for kind, text in said[0::2]]
    assert all(kind == "user_message" for kind, _ in said[0::2])
    assert sorted(users) == sorted(f"message {n}" for n in range(MESSAGES))
    for (_, question), (kind, answer) in zip(said[0::2], said[1::2], strict=True):
        assert (kind, answer) == ("assistant_message", f"Re: {question}")
    # Both replicas did work, and each saw the other's turns in its prompt.
    runs = clients[0].get("/v1/runs/", params={"agent_id": agent_id, "limit": 1000}).json()
    assert len(runs) == MESSAGES and {run["status"] for run in runs} == {"completed"}
    assert history(clients[0], agent_id) == history(clients[1], agent_id)
    for client in clients:
        client.close()


def test_a_queued_turn_runs_on_a_replica_and_is_seen_from_the_other(
    replicas: list[EngramServer], fake_llm: FakeLLM
) -> None:
    fake_llm.fallback = reply.echo("Re: ")
    with replicas[0].client() as first, replicas[1].client() as second:
        agent_id = first.post("/v1/agents/", json={"model": MODEL}).json()["id"]
        runs = [
            first.post(
                f"/v1/agents/{agent_id}/messages/async",
                json={"messages": [{"role": "user", "content": f"queued {n}"}]},
            ).json()
            for n in range(6)
        ]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            statuses = {second.get(f"/v1/runs/{run['id']}").json()["status"] for run in runs}
            if statuses == {"completed"}:
                break
            time.sleep(0.2)
        assert statuses == {"completed"}
        users = [
            m["content"] for m in history(second, agent_id) if m["message_type"] == "user_message"
        ]
        assert sorted(users) == sorted(f"queued {n}" for n in range(6))


def test_a_run_is_cancelled_from_the_other_replica(
    replicas: list[EngramServer], fake_llm: FakeLLM
) -> None:
    # The model calls a tool, so the run would take another step; it is cancelled between.
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "slow"}, delay=1.5),
        reply.text("never reached"),
    )
    with replicas[0].client() as first, replicas[1].client() as second:
        agent_id = first.post("/v1/agents/", json={"model": MODEL}).json()["id"]
        run = first.post(
            f"/v1/agents/{agent_id}/messages/async",
            json={"messages": [{"role": "user", "content": "take your time"}]},
        ).json()
        fake_llm.wait_for_requests(1)

        cancelled = second.post(f"/v1/agents/{agent_id}/messages/cancel", json={})
        assert cancelled.status_code == 200, cancelled.text

        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            status = first.get(f"/v1/runs/{run['id']}").json()["status"]
            if status not in ("created", "running"):
                break
            time.sleep(0.1)
        assert status == "cancelled"
        steps = first.get(f"/v1/runs/{run['id']}/steps").json()
        assert len(steps) <= 1  # the step in flight may commit; none after it


def test_a_replica_that_dies_mid_turn_frees_its_agent(
    replicas: list[EngramServer], fake_llm: FakeLLM
) -> None:
    fake_llm.script(reply.text("never delivered", delay=30))
    with replicas[0].client() as first, replicas[1].client() as second:
        agent_id = first.post("/v1/agents/", json={"model": MODEL}).json()["id"]
        threading.Thread(
            target=lambda: _quietly(
                lambda: first.post(
                    f"/v1/agents/{agent_id}/messages",
                    json={"messages": [{"role": "user", "content": "doomed"}]},
                )
            ),
            daemon=True,
        ).start()
        fake_llm.wait_for_requests(1)
        busy = second.post(
            f"/v1/agents/{agent_id}/messages",
            params={"if_busy": "reject"},
            json={"messages": [{"role": "user", "content": "too early"}]},
        )
        assert busy.status_code == 409

        replicas[0].kill()  # its lease is no longer renewed and expires

        fake_llm.script(reply.text("Back."))
        started = time.monotonic()
        answer = second.post(
            f"/v1/agents/{agent_id}/messages",
            json={"messages": [{"role": "user", "content": "after the crash"}]},
            timeout=90,
        )
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - started < 45


def _quietly(request: Callable[[], object]) -> None:
    """Send, ignoring the broken connection of a server killed meanwhile."""
    with contextlib.suppress(httpx.HTTPError):
        request()


def test_a_message_deleted_through_one_replica_leaves_the_others_prompts(
    replicas: list[EngramServer], fake_llm: FakeLLM
) -> None:
    fake_llm.script(reply.text("The code is OWL-42."), reply.text("Ok."))
    with replicas[0].client() as first, replicas[1].client() as second:
        agent_id = first.post("/v1/agents/", json={"model": MODEL}).json()["id"]
        for text in ("What is the code?", "Thanks."):
            sent = first.post(
                f"/v1/agents/{agent_id}/messages",
                json={"messages": [{"role": "user", "content": text}]},
            )
            assert sent.status_code == 200, sent.text
        assert "OWL-42" in fake_llm.chat_requests[-1].all_text  # in the first's cached window
        [answer] = [
            m for m in history(second, agent_id) if m.get("content") == "The code is OWL-42."
        ]

        deleted = second.delete(f"/v1/agents/{agent_id}/messages/{answer['id']}")
        assert deleted.status_code in (200, 204), deleted.text

        fake_llm.script(reply.text("Bye."))
        again = first.post(
            f"/v1/agents/{agent_id}/messages",
            json={"messages": [{"role": "user", "content": "Bye."}]},
        )
        assert again.status_code == 200, again.text
        assert "OWL-42" not in fake_llm.chat_requests[-1].all_text


def test_a_queued_run_whose_replica_died_runs_on_another(
    fake_llm: FakeLLM, tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    database = postgres_cluster.new_database()
    first, second = (
        EngramServer(
            tmp_path / f"replica-{n}",
            fake_llm.base_url,
            # A dead replica's taken jobs go back to the queue after 15 s, not 30.
            {"ENGRAM_WORKER_DEAD_AFTER_SECONDS": "15"},
            database_url=database,
        )
        for n in (1, 2)
    )
    # The first replica alone takes both jobs: its turn is slow, the second run waits on it.
    fake_llm.script(reply.text("never delivered", delay=60))
    fake_llm.fallback = reply.echo("Re: ")
    first.start()
    try:
        with first.client() as client:
            agent_id = client.post("/v1/agents/", json={"model": MODEL}).json()["id"]
            runs = []
            for text in ("the first message", "the queued message"):
                runs.append(
                    client.post(
                        f"/v1/agents/{agent_id}/messages/async",
                        json={"messages": [{"role": "user", "content": text}]},
                    ).json()
                )
                fake_llm.wait_for_requests(1, timeout=20)
            assert client.get(f"/v1/runs/{runs[1]['id']}").json()["status"] == "created"
        second.start()
        first.kill()

        with second.client() as client:
            deadline = time.monotonic() + 120
            while (run := client.get(f"/v1/runs/{runs[1]['id']}").json())["completed_at"] is None:
                assert time.monotonic() < deadline, f"the queued run is still {run['status']}"
                time.sleep(0.5)
            assert (run["status"], run["stop_reason"]) == ("completed", "end_turn")
            said = [
                (m["message_type"], m.get("content"))
                for m in client.get(f"/v1/runs/{runs[1]['id']}/messages").json()
            ]
            assert said == [
                ("user_message", "the queued message"),
                ("assistant_message", "Re: the queued message"),
            ]
            users = [
                m["content"]
                for m in history(client, agent_id)
                if m["message_type"] == "user_message"
            ]
            assert users == ["the queued message"]
            # The interrupted turn's job was handed out again too, and did nothing: its run
            # was taken already (it ends failed once its lease is seen to be dead).
            asked = [request.last_user_text for request in fake_llm.chat_requests]
            assert asked == ["the first message", "the queued message"]
            interrupted = client.get(f"/v1/runs/{runs[0]['id']}").json()
            assert interrupted["status"] in ("running", "failed")
            assert client.get(f"/v1/runs/{runs[0]['id']}/steps").json() == []
    finally:
        first.stop()
        second.stop()
