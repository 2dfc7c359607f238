"""Sleep-time agents through letta-client, as a Letta user turns them on and watches them."""

from __future__ import annotations

import time

from letta_client import Letta

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply
from tests.fakes.replies import FakeRequest


def is_sleeper(request: FakeRequest) -> bool:
    return "You look after the memory of another agent" in request.system_text


def test_enable_sleeptime_through_letta_client(
    client: Letta, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = make_agent(
        memory_blocks=[{"label": "human", "value": "Unknown."}], enable_sleeptime=True
    )
    group = agent.multi_agent_group
    assert group is not None
    assert group.manager_type == "sleeptime"
    assert group.sleeptime_agent_frequency == 5
    assert group.manager_agent_id == agent.id
    (sleeper_id,) = group.agent_ids
    assert client.agents.retrieve(sleeper_id).agent_type == "sleeptime_agent"

    fake_llm.when(
        is_sleeper,
        reply.tool_call(
            "memory_replace",
            {"label": "human", "old_string": "Unknown.", "new_string": "Bo, a baker."},
        ),
        once=True,
    )
    fake_llm.when(is_sleeper, reply.tool_call("memory_finish_edits", {}))
    for text in ("I am Bo.", "I bake bread.", "Sourdough mostly.", "At dawn.", "Every day."):
        client.agents.messages.create(agent.id, messages=[{"role": "user", "content": text}])
    deadline = time.monotonic() + 30
    while True:
        runs = list(client.runs.list(agent_id=sleeper_id))
        if runs and runs[0].status == "completed":
            break
        assert time.monotonic() < deadline, runs
        time.sleep(0.1)
    assert len(runs) == 1
    human = client.agents.blocks.retrieve("human", agent_id=agent.id)
    assert human.value == "Bo, a baker."
    assert client.agents.retrieve(agent.id).multi_agent_group.turns_counter == 0  # type: ignore[union-attr]

    off = client.agents.update(agent.id, enable_sleeptime=False)
    assert off.multi_agent_group is None
