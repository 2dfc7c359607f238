"""Sleep-time agents through ``engram.Engram``: pairing, the group operations and the dry
run of archival upkeep, with the same rules and field names as the REST API."""

from __future__ import annotations

import time

import pytest

from engram import Engram
from engram.errors import InvalidInput, NotFound
from tests.client.conftest import MODEL
from tests.fakes import FakeLLM, reply


def test_sleeptime_through_the_in_process_client(engram_client: Engram, fake_llm: FakeLLM) -> None:
    agent = engram_client.agents.create(
        model=MODEL, memory_blocks=[{"label": "human", "value": "?"}], enable_sleeptime=True
    )
    group = agent.multi_agent_group
    assert group is not None and group.manager_type == "sleeptime"
    assert engram_client.groups.retrieve(group.id) == group
    assert [g.id for g in engram_client.groups.list()] == [group.id]
    assert engram_client.groups.count() == 1
    with pytest.raises(InvalidInput) as refused:
        engram_client.groups.update(
            group.id, manager_config={"manager_type": "sleeptime", "sleeptime_agent_frequency": 0}
        )
    assert refused.value.field.endswith("sleeptime_agent_frequency")
    changed = engram_client.groups.update(
        group.id, manager_config={"manager_type": "sleeptime", "sleeptime_agent_frequency": 1}
    )
    assert changed.sleeptime_agent_frequency == 1

    fake_llm.when(
        lambda r: "You look after the memory" in r.system_text,
        reply.tool_call("memory_finish_edits", {}),
    )
    engram_client.agents.messages.create(agent.id, messages=[{"role": "user", "content": "hi"}])
    (sleeper_id,) = group.agent_ids
    deadline = time.monotonic() + 30
    while not [run for run in engram_client.runs.list(agent_id=sleeper_id) if run.completed_at]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert engram_client.groups.duplicates(agent.id) == []

    engram_client.groups.delete(group.id)
    with pytest.raises(NotFound):
        engram_client.agents.retrieve(sleeper_id)
    assert engram_client.agents.retrieve(agent.id).multi_agent_group is None
