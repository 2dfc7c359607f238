"""Following a run from another replica: a client attached to replica B reads, through
letta-client, the run replica A executes, as it commits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from letta_client.types.agents import AssistantMessage
from letta_client.types.agents.letta_streaming_response import LettaPing, LettaStopReason

from tests.compat.conftest import letta_client_for
from tests.fakes import FakeLLM, reply
from tests.support.postgres import PostgresCluster
from tests.support.server import EngramServer

pytestmark = pytest.mark.slow  # see tests/conftest.py

MODEL = "openai/gpt-4o-mini"


@pytest.fixture
def replicas(
    fake_llm: FakeLLM, tmp_path: Path, postgres_cluster: PostgresCluster
) -> Iterator[list[EngramServer]]:
    database = postgres_cluster.new_database()
    servers = [
        EngramServer(tmp_path / f"replica-{n}", fake_llm.base_url, database_url=database)
        for n in (1, 2)
    ]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def test_a_client_on_one_replica_follows_a_run_on_the_other(
    replicas: list[EngramServer], fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "my dog is Rex"}),
        reply.text("Saved: your dog is Rex.", delay=1.5),
    )
    with letta_client_for(replicas[0]) as a, letta_client_for(replicas[1]) as b:
        agent = a.agents.create(model=MODEL)
        # The streamed turn runs in replica A's process, for as long as A's connection lasts.
        with a.agents.messages.create(agent.id, input="remember Rex", streaming=True) as live:
            run_id = next(iter(live)).run_id  # type: ignore[union-attr]
            assert run_id is not None
            with b.runs.messages.stream(run_id, poll_interval=0.05) as followed:
                status_when_attached = b.runs.retrieve(run_id).status
                events, arrived = [], []
                for event in followed:
                    if not isinstance(event, LettaPing):
                        events.append(event)
                        arrived.append(time.monotonic())
            original = [e for e in live if not isinstance(e, LettaPing)]
            finished = time.monotonic()

    assert status_when_attached in ("created", "running")
    kinds = [event.message_type for event in events]
    assert kinds == [
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
        "stop_reason",
        "usage_statistics",
    ]
    assert [getattr(e, "seq_id", None) for e in events] == [1, 2, 3, None, None]
    answer = events[2]
    assert isinstance(answer, AssistantMessage) and answer.content == "Saved: your dog is Rex."
    assert isinstance(events[3], LettaStopReason) and events[3].stop_reason == "end_turn"
    assert [getattr(e, "id", None) for e in events[:3]] == [
        getattr(e, "id", None) for e in original[:3]
    ]
    # The call arrived before the slow answer was written: followed live, not replayed.
    assert arrived[2] - arrived[0] > 1.0
    assert finished - arrived[2] < 5.0
