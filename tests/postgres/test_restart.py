"""PostgreSQL restarts under a running server: requests get a clean 503 meanwhile, then
succeed on fresh connections, and everything committed before is still there."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeLLM, reply
from tests.support.postgres import PostgresCluster
from tests.support.server import EngramServer

pytestmark = pytest.mark.slow  # see tests/conftest.py

ASCENDING = {"order": "asc", "limit": 100}


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    """A cluster for this test alone: stopping it must not disturb other tests' servers."""
    cluster = PostgresCluster()
    yield cluster
    cluster.close()


def test_a_postgres_restart_answers_503_meanwhile_and_loses_nothing(
    fake_llm: FakeLLM, tmp_path: Path, own_cluster: PostgresCluster
) -> None:
    server = EngramServer(
        tmp_path / "data", fake_llm.base_url, database_url=own_cluster.new_database()
    )
    server.start()
    try:
        with server.client() as client:
            agent = client.post("/v1/agents/", json={"model": "openai/gpt-4o-mini"}).json()
            inserted = client.post(
                f"/v1/agents/{agent['id']}/archival-memory",
                json={"text": "The spare key is under the blue flowerpot."},
            )
            assert inserted.status_code == 200, inserted.text
            fake_llm.script(reply.text("Noted."))
            sent = client.post(
                f"/v1/agents/{agent['id']}/messages",
                json={"messages": [{"role": "user", "content": "before the restart"}]},
            )
            assert sent.status_code == 200, sent.text
            history = client.get(f"/v1/agents/{agent['id']}/messages", params=ASCENDING).json()

            own_cluster.stop()
            for request in (
                lambda: client.get(f"/v1/agents/{agent['id']}"),
                lambda: client.get("/v1/agents/"),
                lambda: client.post("/v1/agents/", json={"model": "openai/gpt-4o-mini"}),
            ):
                response = request()
                assert response.status_code == 503, response.text
                assert "database is unavailable" in response.json()["detail"]
                assert response.headers.get("retry-after")

            own_cluster.start()
            fetched = client.get(f"/v1/agents/{agent['id']}")
            assert fetched.status_code == 200, fetched.text
            assert fetched.json()["name"] == agent["name"]
            found = client.get(
                f"/v1/agents/{agent['id']}/archival-memory/search",
                params={"query": "where is the spare key"},
            )
            assert found.status_code == 200, found.text
            assert [hit["content"] for hit in found.json()["results"]] == [
                "The spare key is under the blue flowerpot."
            ]
            assert (
                client.get(f"/v1/agents/{agent['id']}/messages", params=ASCENDING).json() == history
            )
            # Writes work again too, a whole step included.
            again = client.post("/v1/agents/", json={"model": "openai/gpt-4o-mini"})
            assert again.status_code == 200, again.text
            fake_llm.script(reply.text("Still here."))
            sent = client.post(
                f"/v1/agents/{agent['id']}/messages",
                json={"messages": [{"role": "user", "content": "after the restart"}]},
            )
            assert sent.status_code == 200, sent.text
            after = client.get(f"/v1/agents/{agent['id']}/messages", params=ASCENDING).json()
            assert [m["id"] for m in after[: len(history)]] == [m["id"] for m in history]
            assert any(m.get("content") == "after the restart" for m in after)
        # No request met an error it did not expect (those are logged as unhandled).
        assert "unhandled error" not in server.log()
    finally:
        server.stop()


def test_requests_in_flight_during_a_restart_fail_cleanly_and_committed_ones_stay(
    fake_llm: FakeLLM, tmp_path: Path, own_cluster: PostgresCluster
) -> None:
    """Clients keep sending messages, reading and writing passages while PostgreSQL goes
    down and comes back: each answer is a 200 or a 503 (never a 500), and every message
    answered 200 is in the agent's history afterwards."""
    server = EngramServer(
        tmp_path / "data", fake_llm.base_url, database_url=own_cluster.new_database()
    )
    server.start()
    statuses: list[int] = []
    delivered: list[str] = []
    stop = threading.Event()
    try:
        with server.client() as setup:
            agent_id = setup.post("/v1/agents/", json={"model": "openai/gpt-4o-mini"}).json()["id"]

        def load(worker: int) -> None:
            with server.client() as client:
                for n in itertools.count():
                    if stop.is_set():
                        return
                    text = f"worker {worker} message {n}"
                    try:
                        if n % 3 == 0:
                            response = client.post(
                                f"/v1/agents/{agent_id}/messages",
                                json={"messages": [{"role": "user", "content": text}]},
                            )
                        elif n % 3 == 1:
                            response = client.post(
                                f"/v1/agents/{agent_id}/archival-memory", json={"text": text}
                            )
                        else:
                            response = client.get(f"/v1/agents/{agent_id}")
                    except httpx.HTTPError:
                        continue  # the server closed a connection: not an answer
                    statuses.append(response.status_code)
                    if n % 3 == 0 and response.status_code == 200:
                        delivered.append(text)

        workers = [threading.Thread(target=load, args=(i,)) for i in range(3)]
        for worker in workers:
            worker.start()
        time.sleep(1.5)
        own_cluster.stop()
        time.sleep(1.5)
        own_cluster.start()
        time.sleep(1.5)
        stop.set()
        for worker in workers:
            worker.join(60)

        assert set(statuses) <= {200, 503}, sorted(set(statuses))
        assert 503 in statuses and 200 in statuses
        with server.client() as client:
            history = client.get(
                f"/v1/agents/{agent_id}/messages", params={"order": "asc", "limit": 1000}
            ).json()
            said = {m.get("content") for m in history if m.get("message_type") == "user_message"}
            assert delivered and set(delivered) <= said
            assert client.get(f"/v1/agents/{agent_id}").status_code == 200
        # No request met an error it did not expect (those are logged as unhandled).
        assert "unhandled error" not in server.log()
    finally:
        stop.set()
        server.stop()
