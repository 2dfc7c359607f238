"""No database connection is held while a model is called: a step reads, calls the model
with no transaction open, then writes. On PostgreSQL that is visible from the server side:
no Engram session sits "idle in transaction" during a slow model call."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.fakes import FakeLLM, reply
from tests.support.postgres import PostgresCluster
from tests.support.server import EngramServer

pytestmark = pytest.mark.slow  # see tests/conftest.py


def engram_sessions(cluster: PostgresCluster, database: str) -> list[tuple[str, str]]:
    """(state, query) of every Engram connection to ``database``."""
    with psycopg.connect(host=str(cluster.socket_dir), user="postgres", dbname="postgres") as c:
        rows = c.execute(
            "SELECT state, query FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = 'engram'",
            (database,),
        ).fetchall()
    return [(str(state), str(query)) for state, query in rows]


def test_no_transaction_stays_open_across_a_model_call(
    fake_llm: FakeLLM, tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    database = postgres_cluster.create_database()
    server = EngramServer(
        tmp_path / "data",
        fake_llm.base_url,
        {"ENGRAM_RECALL_EMBEDDINGS": "false"},
        database_url=postgres_cluster.url(database),
    )
    server.start()
    try:
        with server.client() as client:
            agent = client.post("/v1/agents/", json={"model": "openai/gpt-4o-mini"}).json()
            fake_llm.script(reply.text("a slow answer", delay=2.0))
            answers: list[int] = []

            def send() -> None:
                response = client.post(
                    f"/v1/agents/{agent['id']}/messages",
                    json={"messages": [{"role": "user", "content": "take your time"}]},
                )
                answers.append(response.status_code)

            sender = threading.Thread(target=send)
            sender.start()
            fake_llm.wait_for_requests(1)
            samples = []
            for _ in range(10):  # across the model's two seconds
                samples.extend(engram_sessions(postgres_cluster, database))
                time.sleep(0.1)
            sender.join(30)

        assert answers == [200]
        assert samples, "the server holds no connections at all?"
        assert [query for state, query in samples if state == "idle in transaction"] == []
    finally:
        server.stop()
