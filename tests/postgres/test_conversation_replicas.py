"""Two replicas on one PostgreSQL serving conversations of one agent, through letta-client:
two conversations run at once across the replicas, while one conversation's turns, sent
to both replicas, run one at a time."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from letta_client import Letta

from tests.compat.conftest import MODEL, letta_client_for
from tests.compat.test_conversations import send, texts
from tests.fakes import FakeLLM, reply
from tests.support.postgres import PostgresCluster
from tests.support.server import EngramServer

pytestmark = pytest.mark.slow  # see tests/conftest.py

DELAY = 1.0


@pytest.fixture
def clients(
    fake_llm: FakeLLM, tmp_path: Path, postgres_cluster: PostgresCluster
) -> Iterator[list[Letta]]:
    database = postgres_cluster.new_database()
    servers = [
        EngramServer(tmp_path / f"replica-{n}", fake_llm.base_url, {}, database_url=database)
        for n in (1, 2)
    ]
    for server in servers:
        server.start()
    sdks = [letta_client_for(server) for server in servers]
    yield sdks
    for sdk in sdks:
        sdk.close()
    for server in servers:
        server.stop()


def test_two_conversations_of_one_agent_run_at_once_on_two_replicas(
    clients: list[Letta], fake_llm: FakeLLM
) -> None:
    fake_llm.fallback = lambda request: reply.text(f"re: {request.last_user_text}", delay=DELAY)
    agent = clients[0].agents.create(model=MODEL)
    one = clients[0].conversations.create(agent_id=agent.id)
    two = clients[1].conversations.create(agent_id=agent.id)

    with ThreadPoolExecutor(2) as pool:
        work = [(clients[0], one.id, "to one"), (clients[1], two.id, "to two")]
        list(pool.map(lambda job: send(*job), work))

    first, second = sorted(request.received_at for request in fake_llm.chat_requests)
    assert second - first < DELAY
    assert texts(clients[1].conversations.messages.list(one.id, order="asc")) == [
        "to one",
        "re: to one",
    ]


def test_one_conversations_turns_wait_for_each_other_across_replicas(
    clients: list[Letta], fake_llm: FakeLLM
) -> None:
    fake_llm.fallback = lambda request: reply.text(f"re: {request.last_user_text}", delay=DELAY)
    agent = clients[0].agents.create(model=MODEL)
    conv = clients[0].conversations.create(agent_id=agent.id)

    with ThreadPoolExecutor(2) as pool:
        work = [(clients[0], conv.id, "first"), (clients[1], conv.id, "second")]
        list(pool.map(lambda job: send(*job), work))

    first, second = sorted(request.received_at for request in fake_llm.chat_requests)
    assert second - first >= DELAY * 0.9
    said = texts(clients[0].conversations.messages.list(conv.id, order="asc"))
    assert len(said) == 4
    for question, answer in zip(said[0::2], said[1::2], strict=True):
        assert answer == f"re: {question}"
