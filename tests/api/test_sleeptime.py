"""Sleep-time agents: ``enable_sleeptime`` pairs an agent with one that edits the shared
memory in the background every N turns (docs/sleeptime.md)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.api.conftest import AgentFactory, error_fields
from tests.fakes import FakeLLM, reply
from tests.fakes.replies import FakeRequest

SLEEPER_MARK = "You look after the memory of another agent"
BLOCKS = [
    {"label": "human", "value": "Name unknown."},
    {"label": "persona", "value": "A helpful assistant."},
]


def is_sleeper(request: FakeRequest) -> bool:
    return SLEEPER_MARK in request.system_text


def paired(make_agent: AgentFactory, api: httpx.Client, frequency: int = 2) -> dict[str, Any]:
    agent = make_agent(memory_blocks=BLOCKS, enable_sleeptime=True)
    group = agent["multi_agent_group"]
    patched = api.patch(
        f"/v1/groups/{group['id']}",
        json={
            "manager_config": {"manager_type": "sleeptime", "sleeptime_agent_frequency": frequency}
        },
    )
    assert patched.status_code == 200, patched.text
    return agent


def say(api: httpx.Client, agent_id: str, text: str) -> dict[str, Any]:
    response = api.post(
        f"/v1/agents/{agent_id}/messages", json={"messages": [{"role": "user", "content": text}]}
    )
    assert response.status_code == 200, response.text
    return response.json()


def sleeper_runs(api: httpx.Client, sleeper_id: str) -> list[dict[str, Any]]:
    runs = api.get("/v1/runs/", params={"agent_id": sleeper_id, "order": "asc"}).json()
    assert isinstance(runs, list)
    return runs


def wait_for_runs(
    api: httpx.Client, sleeper_id: str, count: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """The sleep-time agent's runs once ``count`` of them have ended."""
    deadline = time.monotonic() + timeout
    while True:
        runs = sleeper_runs(api, sleeper_id)
        ended = [run for run in runs if run["completed_at"] is not None]
        if len(ended) >= count:
            return runs
        assert time.monotonic() < deadline, f"only {len(ended)} sleep-time runs ended: {runs}"
        time.sleep(0.1)


def sleeper_edits(fake_llm: FakeLLM, new_memory: str) -> None:
    fake_llm.when(
        is_sleeper,
        reply.tool_call("memory_rethink", {"label": "human", "new_memory": new_memory}),
        once=True,
    )
    fake_llm.when(is_sleeper, reply.tool_call("memory_finish_edits", {}))


def test_enable_sleeptime_pairs_the_agent_with_a_memory_agent(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=BLOCKS, enable_sleeptime=True)
    group = agent["multi_agent_group"]
    assert agent["enable_sleeptime"] is True
    assert group["manager_type"] == "sleeptime"
    assert group["sleeptime_agent_frequency"] == 5
    assert group["manager_agent_id"] == agent["id"]
    assert agent["managed_group"] == group
    main_tools = {tool["name"] for tool in agent["tools"]}
    assert main_tools == {"conversation_search", "archival_memory_search"}
    (sleeper_id,) = group["agent_ids"]
    sleeper = api.get(f"/v1/agents/{sleeper_id}").json()
    assert sleeper["agent_type"] == "sleeptime_agent"
    assert {tool["name"] for tool in sleeper["tools"]} == {
        "memory_rethink",
        "memory_finish_edits",
        "memory_replace",
        "memory_insert",
    }
    shared = {block["id"] for block in agent["blocks"]}
    assert shared < {block["id"] for block in sleeper["blocks"]}
    assert "memory_persona" in {block["label"] for block in sleeper["blocks"]}
    assert sleeper["multi_agent_group"] is None
    assert api.get(f"/v1/groups/{group['id']}").json() == group
    listed = api.get("/v1/groups/", params={"manager_type": "sleeptime"}).json()
    assert group["id"] in [item["id"] for item in listed]
    assert api.get(f"/v1/agents/{sleeper_id}/groups").json() == [group]
    nested = api.patch(f"/v1/agents/{sleeper_id}", json={"enable_sleeptime": True})
    assert nested.status_code == 422 and "enable_sleeptime" in error_fields(nested)
    assert api.get(f"/v1/agents/{sleeper_id}").json()["multi_agent_group"] is None


def test_enable_sleeptime_on_update_pairs_and_false_unpairs(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=BLOCKS)
    assert agent["multi_agent_group"] is None and agent["enable_sleeptime"] is False
    on = api.patch(f"/v1/agents/{agent['id']}", json={"enable_sleeptime": True}).json()
    group = on["multi_agent_group"]
    (sleeper_id,) = group["agent_ids"]
    again = api.patch(f"/v1/agents/{agent['id']}", json={"enable_sleeptime": True}).json()
    assert again["multi_agent_group"]["id"] == group["id"]  # still the one pairing
    off = api.patch(f"/v1/agents/{agent['id']}", json={"enable_sleeptime": False}).json()
    assert off["multi_agent_group"] is None
    assert api.get(f"/v1/agents/{sleeper_id}").status_code == 404
    assert api.get(f"/v1/groups/{group['id']}").status_code == 404
    # The shared blocks stay the main agent's.
    assert [b["value"] for b in off["blocks"]] == [b["value"] for b in agent["blocks"]]


def test_a_bad_frequency_is_refused_and_changes_nothing(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    group = make_agent(enable_sleeptime=True)["multi_agent_group"]
    for bad in (0, -3, 1_000_000):
        response = api.patch(
            f"/v1/groups/{group['id']}",
            json={
                "manager_config": {"manager_type": "sleeptime", "sleeptime_agent_frequency": bad}
            },
        )
        assert response.status_code == 422, response.text
        assert "sleeptime_agent_frequency" in error_fields(response)
    bad_upkeep = api.patch(f"/v1/groups/{group['id']}", json={"archival_upkeep": {"similarity": 2}})
    assert bad_upkeep.status_code == 422
    assert api.get(f"/v1/groups/{group['id']}").json() == group
    members = api.patch(
        f"/v1/groups/{group['id']}", json={"agent_ids": [group["manager_agent_id"]]}
    )
    assert members.status_code == 422 and "agent_ids" in error_fields(members)
    changed = api.patch(
        f"/v1/groups/{group['id']}",
        json={"manager_config": {"manager_type": "sleeptime", "sleeptime_agent_frequency": 3}},
    ).json()
    assert changed["sleeptime_agent_frequency"] == 3


def test_the_rest_of_the_group_api_answers_501(api: httpx.Client, make_agent: AgentFactory) -> None:
    group = make_agent(enable_sleeptime=True)["multi_agent_group"]
    created = api.post("/v1/groups/", json={"agent_ids": [], "description": "x"})
    assert created.status_code == 501
    assert created.headers["x-should-retry"] == "false"
    assert "POST /v1/groups/" in created.json()["detail"]
    assert api.get(f"/v1/groups/{group['id']}/messages").status_code == 501
    assert api.get("/v1/groups/nope").status_code == 404


def test_deleting_the_main_agent_deletes_its_sleeptime_agent_and_group(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(enable_sleeptime=True)
    group = agent["multi_agent_group"]
    assert api.delete(f"/v1/agents/{agent['id']}").status_code == 200
    assert api.get(f"/v1/agents/{group['agent_ids'][0]}").status_code == 404
    assert api.get(f"/v1/groups/{group['id']}").status_code == 404


def test_deleting_the_sleeptime_agent_alone_turns_the_pairing_off(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = make_agent(memory_blocks=BLOCKS, enable_sleeptime=True)
    group = agent["multi_agent_group"]
    assert api.delete(f"/v1/agents/{group['agent_ids'][0]}").status_code == 200
    main = api.get(f"/v1/agents/{agent['id']}").json()
    assert main["multi_agent_group"] is None
    assert api.get(f"/v1/groups/{group['id']}").status_code == 404
    assert {b["label"] for b in main["blocks"]} == {"human", "persona"}
    fake_llm.script(reply.text("still here"))
    assert say(api, agent["id"], "hello")["messages"][-1]["content"] == "still here"


def test_after_n_turns_the_sleeptime_agent_edits_a_shared_block(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = paired(make_agent, api, frequency=2)
    sleeper_id = agent["multi_agent_group"]["agent_ids"][0]
    sleeper_edits(fake_llm, "Name: Ada. Likes chess.")
    say(api, agent["id"], "My name is Ada.")
    time.sleep(0.3)
    assert sleeper_runs(api, sleeper_id) == []  # one turn: not yet
    say(api, agent["id"], "I like chess.")
    (run,) = wait_for_runs(api, sleeper_id, 1)
    assert run["status"] == "completed", run
    assert run["agent_id"] == sleeper_id
    assert run["metadata"]["run_type"] == "sleeptime_agent_send_message_async"
    # It was given the two turns' transcript.
    first = next(r for r in fake_llm.chat_requests if is_sleeper(r))
    assert "My name is Ada." in first.last_user_text and "I like chess." in first.last_user_text
    human = next(
        b for b in api.get(f"/v1/agents/{agent['id']}").json()["blocks"] if b["label"] == "human"
    )
    assert human["value"] == "Name: Ada. Likes chess."
    (entry,) = api.get(f"/v1/blocks/{human['id']}/history").json()
    assert entry["actor_type"] == "agent" and entry["actor_id"] == sleeper_id
    assert entry["run_id"] == run["id"]
    steps = api.get(f"/v1/runs/{run['id']}/steps").json()
    assert len(steps) == 2
    # The main agent's next prompt holds the edit.
    fake_llm.script(reply.text("Hi Ada"))
    say(api, agent["id"], "Who am I?")
    main_requests = [r for r in fake_llm.chat_requests if not is_sleeper(r)]
    assert "Name: Ada. Likes chess." in main_requests[-1].system_text
    # Counted after the reply, off its path: the third turn shows shortly.
    deadline = time.monotonic() + 10
    while api.get(f"/v1/groups/{agent['multi_agent_group']['id']}").json()["turns_counter"] != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_failed_sleeptime_run_leaves_the_blocks_and_is_retried_next_time(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = paired(make_agent, api, frequency=1)
    sleeper_id = agent["multi_agent_group"]["agent_ids"][0]
    fake_llm.when(is_sleeper, reply.error(500, "model down", should_retry=False), once=True)
    say(api, agent["id"], "I live in Lyon.")
    (failed,) = wait_for_runs(api, sleeper_id, 1)
    assert failed["status"] == "failed"
    human = next(
        b for b in api.get(f"/v1/agents/{agent['id']}").json()["blocks"] if b["label"] == "human"
    )
    assert human["value"] == "Name unknown."
    assert api.get(f"/v1/blocks/{human['id']}/history").json() == []
    sleeper_edits(fake_llm, "Lives in Lyon.")
    say(api, agent["id"], "It rains a lot.")
    runs = wait_for_runs(api, sleeper_id, 2)
    assert [run["status"] for run in runs] == ["failed", "completed"]
    retried = [r for r in fake_llm.chat_requests if is_sleeper(r)][-2]
    assert "I live in Lyon." in retried.last_user_text  # the failed run's turn, read again
    assert "It rains a lot." in retried.last_user_text


def test_turns_during_a_sleeptime_run_go_to_the_next_one(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = paired(make_agent, api, frequency=1)
    sleeper_id = agent["multi_agent_group"]["agent_ids"][0]
    fake_llm.when(is_sleeper, reply.tool_call("memory_finish_edits", {}, delay=1.5), once=True)
    fake_llm.when(is_sleeper, reply.tool_call("memory_finish_edits", {}))
    say(api, agent["id"], "first")
    deadline = time.monotonic() + 10
    while not sleeper_runs(api, sleeper_id):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    say(api, agent["id"], "second")  # the first run is still going: no second run yet
    say(api, agent["id"], "third")
    assert len(sleeper_runs(api, sleeper_id)) == 1
    wait_for_runs(api, sleeper_id, 1)
    say(api, agent["id"], "fourth")
    runs = wait_for_runs(api, sleeper_id, 2)
    assert len(runs) == 2
    latest = [r for r in fake_llm.chat_requests if is_sleeper(r)][-1].last_user_text
    assert all(word in latest for word in ("second", "third", "fourth"))
    assert "first" not in latest.split("<transcript>")[1]


def test_blocks_attached_to_the_main_agent_later_are_shared_with_its_sleeptime_agent(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=BLOCKS, enable_sleeptime=True)
    sleeper_id = agent["multi_agent_group"]["agent_ids"][0]
    block = api.post("/v1/blocks/", json={"label": "projects", "value": "none yet"}).json()
    attached = api.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/attach/{block['id']}")
    assert attached.status_code == 200, attached.text
    labels = {b["label"] for b in api.get(f"/v1/agents/{sleeper_id}").json()["blocks"]}
    assert "projects" in labels
    api.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/detach/{block['id']}")
    labels = {b["label"] for b in api.get(f"/v1/agents/{sleeper_id}").json()["blocks"]}
    assert "projects" not in labels
    api.delete(f"/v1/blocks/{block['id']}")


def say_in(api: httpx.Client, conversation_id: str, text: str) -> None:
    response = api.post(
        f"/v1/conversations/{conversation_id}/messages", json={"input": text, "streaming": False}
    )
    assert response.status_code == 200, response.text


def transcript_of(request: FakeRequest) -> str:
    return request.last_user_text.split("<transcript>")[1]


def test_each_conversation_counts_its_own_turns_and_is_read_alone(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = paired(make_agent, api, frequency=2)
    sleeper_id = agent["multi_agent_group"]["agent_ids"][0]
    fake_llm.when(is_sleeper, reply.tool_call("memory_finish_edits", {}))
    fake_llm.fallback = lambda request: reply.text(f"ok: {request.last_user_text}")
    ann = api.post("/v1/conversations/", params={"agent_id": agent["id"]}, json={}).json()
    bob = api.post("/v1/conversations/", params={"agent_id": agent["id"]}, json={}).json()

    # One turn in each conversation and one in the agent's own thread: no thread has two.
    say_in(api, ann["id"], "ann one")
    say_in(api, bob["id"], "bob one")
    say(api, agent["id"], "own one")
    time.sleep(0.3)
    assert sleeper_runs(api, sleeper_id) == []

    say_in(api, ann["id"], "ann two")
    (first,) = wait_for_runs(api, sleeper_id, 1)
    say_in(api, bob["id"], "bob two")
    second = wait_for_runs(api, sleeper_id, 2)[1]
    say(api, agent["id"], "own two")
    third = wait_for_runs(api, sleeper_id, 3)[2]

    assert [run["metadata"]["conversation_id"] for run in (first, second, third)] == [
        ann["id"],
        bob["id"],
        None,
    ]
    read = [transcript_of(r) for r in fake_llm.chat_requests if is_sleeper(r)]
    ann_read, bob_read, own_read = read[0], read[1], read[2]
    assert "ann one" in ann_read and "ann two" in ann_read
    assert "bob" not in ann_read and "own" not in ann_read
    assert "bob one" in bob_read and "bob two" in bob_read
    assert "ann" not in bob_read and "own" not in bob_read
    assert "own one" in own_read and "own two" in own_read
    assert "ann" not in own_read and "bob" not in own_read

    # The next run of a conversation starts after what its last run read.
    say_in(api, ann["id"], "ann three")
    say_in(api, ann["id"], "ann four")
    wait_for_runs(api, sleeper_id, 4)
    latest = transcript_of([r for r in fake_llm.chat_requests if is_sleeper(r)][-1])
    assert "ann three" in latest and "ann four" in latest and "ann two" not in latest

    # Deleting a conversation drops its count from the pairing; the others go on.
    assert api.delete(f"/v1/conversations/{ann['id']}").status_code < 300
    say_in(api, bob["id"], "bob three")
    say_in(api, bob["id"], "bob four")
    wait_for_runs(api, sleeper_id, 5)
    latest = transcript_of([r for r in fake_llm.chat_requests if is_sleeper(r)][-1])
    assert "bob three" in latest and "bob four" in latest and "bob two" not in latest


def test_one_sleeptime_run_at_a_time_across_conversations(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = paired(make_agent, api, frequency=1)
    sleeper_id = agent["multi_agent_group"]["agent_ids"][0]
    fake_llm.when(is_sleeper, reply.tool_call("memory_finish_edits", {}, delay=1.5), once=True)
    fake_llm.when(is_sleeper, reply.tool_call("memory_finish_edits", {}))
    fake_llm.fallback = lambda request: reply.text("ok")
    ann = api.post("/v1/conversations/", params={"agent_id": agent["id"]}, json={}).json()
    bob = api.post("/v1/conversations/", params={"agent_id": agent["id"]}, json={}).json()

    say_in(api, ann["id"], "ann speaks")
    deadline = time.monotonic() + 10
    while not sleeper_runs(api, sleeper_id):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    say_in(api, bob["id"], "bob waits")  # ann's run is going: bob's turn waits for the next
    time.sleep(0.3)
    assert len(sleeper_runs(api, sleeper_id)) == 1
    wait_for_runs(api, sleeper_id, 1)
    say_in(api, bob["id"], "bob again")

    runs = wait_for_runs(api, sleeper_id, 2)
    assert [run["metadata"]["conversation_id"] for run in runs] == [ann["id"], bob["id"]]
    latest = transcript_of([r for r in fake_llm.chat_requests if is_sleeper(r)][-1])
    assert "bob waits" in latest and "bob again" in latest and "ann" not in latest
