"""Archival upkeep: near-duplicate passages of a sleep-time agent's main agent are found
(vector similarity and word overlap), listed by the dry run, and merged with provenance."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.api.conftest import AgentFactory
from tests.fakes import FakeLLM, reply
from tests.fakes.replies import FakeRequest

SISTER = "The user's sister Maria lives in Porto and works as a nurse."
SISTER_AGAIN = "The user's sister Maria lives in Porto and works as a nurse at the hospital."
SISTER_THIRD = "The user's sister Maria lives in Porto and works as a nurse there."
DOG = "The user adopted a grey greyhound called Biscuit last spring."


def is_sleeper(request: FakeRequest) -> bool:
    return "You look after the memory of another agent" in request.system_text


def insert(api: httpx.Client, agent_id: str, text: str) -> dict[str, Any]:
    response = api.post(f"/v1/agents/{agent_id}/archival-memory", json={"text": text})
    assert response.status_code == 200, response.text
    (passage,) = response.json()
    return dict(passage)


def passages(api: httpx.Client, agent_id: str) -> list[dict[str, Any]]:
    found = api.get(f"/v1/agents/{agent_id}/archival-memory", params={"ascending": True}).json()
    return list(found)


def test_dry_run_lists_duplicates_and_changes_nothing(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    first = insert(api, agent["id"], SISTER)
    second = insert(api, agent["id"], SISTER_AGAIN)
    insert(api, agent["id"], DOG)
    found = api.get(f"/v1/agents/{agent['id']}/archival-memory/duplicates").json()
    assert len(found) == 1
    (group,) = found
    assert group["keep"]["id"] == second["id"]  # the longest text is kept
    assert [d["id"] for d in group["duplicates"]] == [first["id"]]
    assert group["duplicates"][0]["similarity"] >= 0.9
    assert group["duplicates"][0]["overlap"] >= 0.5
    assert len(passages(api, agent["id"])) == 3
    strict = api.get(
        f"/v1/agents/{agent['id']}/archival-memory/duplicates", params={"overlap": 1.0}
    ).json()
    assert strict == []
    bad = api.get(f"/v1/agents/{agent['id']}/archival-memory/duplicates", params={"overlap": 3})
    assert bad.status_code == 422


def test_a_sleeptime_run_merges_planted_duplicates_keeping_provenance(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = make_agent(enable_sleeptime=True)
    group = agent["multi_agent_group"]
    api.patch(
        f"/v1/groups/{group['id']}",
        json={"manager_config": {"manager_type": "sleeptime", "sleeptime_agent_frequency": 1}},
    )
    first = insert(api, agent["id"], SISTER)
    second = insert(api, agent["id"], SISTER_AGAIN)
    third = insert(api, agent["id"], SISTER_THIRD)
    dog = insert(api, agent["id"], DOG)
    fake_llm.when(is_sleeper, reply.tool_call("memory_finish_edits", {}))
    api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": "hello"}]},
    )
    deadline = time.monotonic() + 30
    while len(left := passages(api, agent["id"])) > 2:
        assert time.monotonic() < deadline, left
        time.sleep(0.1)
    kept = {p["id"]: p for p in left}
    assert set(kept) == {second["id"], dog["id"]}
    merged = kept[second["id"]]["metadata"]["merged_from"]
    assert [m["id"] for m in merged] == [first["id"], third["id"]]
    assert [m["text"] for m in merged] == [SISTER, SISTER_THIRD]
    assert merged[0]["created_at"] and merged[0]["merged_at"]
    assert "merged_from" not in kept[dog["id"]]["metadata"]
    # A later upkeep compares what was written since with everything before it.
    late = insert(api, agent["id"], SISTER)
    api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": "again"}]},
    )
    deadline = time.monotonic() + 30
    while len(left := passages(api, agent["id"])) > 2:
        assert time.monotonic() < deadline, left
        time.sleep(0.1)
    again = {p["id"]: p for p in left}[second["id"]]["metadata"]["merged_from"]
    assert [m["id"] for m in again] == [first["id"], third["id"], late["id"]]


def test_mark_mode_keeps_every_passage_and_agents_without_sleeptime_are_left_alone(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    plain = make_agent()
    insert(api, plain["id"], SISTER)
    insert(api, plain["id"], SISTER_AGAIN)
    agent = make_agent(enable_sleeptime=True)
    group = agent["multi_agent_group"]
    api.patch(
        f"/v1/groups/{group['id']}",
        json={
            "manager_config": {"manager_type": "sleeptime", "sleeptime_agent_frequency": 1},
            "archival_upkeep": {"mode": "mark"},
        },
    )
    first = insert(api, agent["id"], SISTER)
    second = insert(api, agent["id"], SISTER_AGAIN)
    fake_llm.when(is_sleeper, reply.tool_call("memory_finish_edits", {}))
    for who in (plain, agent):
        api.post(
            f"/v1/agents/{who['id']}/messages",
            json={"messages": [{"role": "user", "content": "hello"}]},
        )
    deadline = time.monotonic() + 30
    while "duplicate_of" not in (marked := passages(api, agent["id"]))[0]["metadata"]:
        assert time.monotonic() < deadline, marked
        time.sleep(0.1)
    assert marked[0]["id"] == first["id"]
    assert marked[0]["metadata"]["duplicate_of"] == second["id"]
    assert len(marked) == 2
    assert all(p["metadata"] == {} for p in passages(api, plain["id"]))
