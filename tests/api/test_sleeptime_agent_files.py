"""Agent files with sleep-time groups: Letta's export of a paired agent imports as a pair,
and Engram's export of a pair holds both agents, the group and the shared blocks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import AgentFactory
from tests.api.test_agent_file_round_trip import letta_validator
from tests.fakes import FakeLLM, reply

FIXTURES = Path(__file__).parents[1] / "fixtures" / "agent_files"


def import_text(api: httpx.Client, text: str, made: list[str]) -> dict[str, Any]:
    response = api.post(
        "/v1/agents/import",
        files={"file": ("pair.af", text.encode(), "application/json")},
        data={"append_copy_suffix": "false"},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    made.extend(answer["agent_ids"])
    return dict(answer)


def test_lettas_sleeptime_group_file_imports_as_a_pair(api: httpx.Client) -> None:
    made: list[str] = []
    try:
        answer = import_text(api, (FIXTURES / "sleeptime_group.af").read_text(), made)
        assert answer["adjustments"] == []
        main_id, sleeper_id = answer["agent_ids"]
        main = api.get(f"/v1/agents/{main_id}").json()
        sleeper = api.get(f"/v1/agents/{sleeper_id}").json()
        group = main["multi_agent_group"]
        assert group["manager_type"] == "sleeptime"
        assert group["agent_ids"] == [sleeper_id]
        assert group["sleeptime_agent_frequency"] == 5
        assert sleeper["agent_type"] == "sleeptime_agent"
        assert {b["id"] for b in main["blocks"]} <= {b["id"] for b in sleeper["blocks"]}
    finally:
        for agent_id in made:
            api.delete(f"/v1/agents/{agent_id}")


def test_a_paired_agent_exports_both_agents_the_group_and_shared_blocks(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = make_agent(
        memory_blocks=[{"label": "human", "value": "Unknown."}], enable_sleeptime=True
    )
    group = agent["multi_agent_group"]
    api.patch(
        f"/v1/groups/{group['id']}", json={"manager_config": {"sleeptime_agent_frequency": 1}}
    )
    fake_llm.when(
        lambda r: "You look after the memory" in r.system_text,
        reply.tool_call("memory_finish_edits", {}),
    )
    api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": "I grow basil."}]},
    )
    sleeper_id = group["agent_ids"][0]
    deadline = time.monotonic() + 30
    while not any(
        r["completed_at"] for r in api.get("/v1/runs/", params={"agent_id": sleeper_id}).json()
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)

    document = json.loads(api.get(f"/v1/agents/{agent['id']}/export").text)
    assert [error.message for error in letta_validator().iter_errors(document)] == []
    main, sleeper = document["agents"]
    assert (main["id"], sleeper["id"]) == ("agent-0", "agent-1")
    assert sleeper["agent_type"] == "sleeptime_agent"
    assert main["enable_sleeptime"] is True and main["group_ids"] == ["group-0"]
    (file_group,) = document["groups"]
    assert file_group["agent_ids"] == ["agent-1"]
    assert file_group["manager_config"] == {
        "manager_type": "sleeptime",
        "manager_agent_id": "agent-0",
        "sleeptime_agent_frequency": 1,
    }
    assert set(main["block_ids"]) < set(sleeper["block_ids"])  # shared, plus its persona
    assert len(document["blocks"]) == len(set(sleeper["block_ids"]))
    message_ids = [m["id"] for a in document["agents"] for m in a["messages"]]
    assert len(message_ids) == len(set(message_ids))
    assert {m["agent_id"] for m in sleeper["messages"]} == {"agent-1"}

    made: list[str] = []
    try:
        answer = import_text(api, json.dumps(document), made)
        new_main, new_sleeper = answer["agent_ids"]
        imported = api.get(f"/v1/agents/{new_main}").json()
        assert imported["multi_agent_group"]["agent_ids"] == [new_sleeper]
        assert imported["multi_agent_group"]["sleeptime_agent_frequency"] == 1
        again = json.loads(api.get(f"/v1/agents/{new_main}/export").text)
        assert [a["name"] for a in again["agents"]] == [a["name"] for a in document["agents"]]
        assert again["groups"][0]["manager_config"] == file_group["manager_config"]
    finally:
        for agent_id in made:
            api.delete(f"/v1/agents/{agent_id}")
