"""Agents calling agents: Letta's three agent-to-agent built-ins, run for real on one server.

The server allows chains two calls deep (``ENGRAM_AGENT_CALL_DEPTH=2``). Every agent uses
the one scripted fake LLM, whose replies are taken in request order: the caller's tool
call, then the target's turn, then the caller's next step.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import MODEL
from tests.compat.conftest import letta_client_for
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import FakeRequest, Reply, reply
from tests.helpers import send
from tests.support.backends import Backend
from tests.support.server import EngramServer, serving

WAIT = "send_message_to_agent_and_wait_for_reply"
ASYNC = "send_message_to_agent_async"
TAGS = "send_message_to_agents_matching_tags"


@pytest.fixture(scope="module")
def server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[Any]:
    with serving(
        tmp_path_factory.mktemp("agent-calls"),
        fake_llm_server.base_url,
        {"ENGRAM_AGENT_CALL_DEPTH": "2"},
        database_url=backend.database_url(),
        in_process=True,
    ) as engram:
        yield engram


@pytest.fixture
def client(server: EngramServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def agent(client: httpx.Client, *tools: str, **fields: Any) -> str:
    body = {"model": MODEL, "tools": list(tools), **fields}
    response = client.post("/v1/agents/", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def tool_returns(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["message_type"] == "tool_return_message"]


def runs_of(client: httpx.Client, agent_id: str) -> list[dict[str, Any]]:
    response = client.get("/v1/runs/", params={"agent_id": agent_id})
    assert response.status_code == 200, response.text
    return list(response.json())


def test_the_three_tools_are_built_in_and_listed(client: httpx.Client) -> None:
    response = client.get("/v1/tools/", params={"limit": 1000})
    assert response.status_code == 200, response.text
    listed = {tool["name"]: tool for tool in response.json()}
    for name in (WAIT, ASYNC, TAGS):
        assert listed[name]["tool_type"] == "letta_multi_agent_core"
    assert listed[WAIT]["json_schema"]["parameters"]["required"] == ["message", "other_agent_id"]
    assert listed[TAGS]["json_schema"]["parameters"]["required"] == [
        "message",
        "match_all",
        "match_some",
    ]


def test_waiting_for_a_reply_returns_the_targets_answer_and_records_its_run(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    target = agent(client)
    caller = agent(client, WAIT)
    fake_llm.script(
        reply.tool_call(WAIT, {"message": "What is 2+2?", "other_agent_id": target}),
        reply.text("It is 4."),
        reply.text("The other agent says 4."),
    )

    body = send(client, caller, "Ask the other agent.")

    returned = tool_returns(body)[0]
    assert returned["status"] == "success"
    assert ast.literal_eval(returned["tool_return"]) == {
        "agent_id": target,
        "response": ["It is 4."],
    }
    target_prompt = fake_llm.chat_requests[1].all_text
    assert f"agent with ID '{caller}'" in target_prompt and "What is 2+2?" in target_prompt
    assert body["messages"][-1]["content"] == "The other agent says 4."
    runs = runs_of(client, target)
    assert [run["status"] for run in runs] == ["completed"]
    assert runs[0]["id"] != runs_of(client, caller)[0]["id"]


@pytest.mark.parametrize("whom", ["unknown", "itself"])
def test_a_call_to_an_unknown_agent_or_to_itself_is_a_tool_error(
    client: httpx.Client, fake_llm: FakeLLM, whom: str
) -> None:
    caller = agent(client, WAIT)
    target = "agent-00000000-0000-4000-8000-000000000000" if whom == "unknown" else caller
    fake_llm.script(
        reply.tool_call(WAIT, {"message": "hi", "other_agent_id": target}),
        reply.text("Nobody answered."),
    )

    body = send(client, caller, "Say hi to them.")

    returned = tool_returns(body)[0]
    assert returned["status"] == "error"
    expected = "no agent with id" if whom == "unknown" else "to itself"
    assert expected in returned["tool_return"]
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    assert len(runs_of(client, caller)) == 1


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"message": "hi"}, "missing required argument(s): other_agent_id"),
        ({"message": 7, "other_agent_id": "x"}, "message must be a string"),
        ({"message": "hi", "other_agent_id": "x", "urgent": True}, "unexpected argument(s)"),
    ],
    ids=["missing", "wrong-type", "unknown"],
)
def test_wrong_arguments_are_a_tool_error_and_reach_nobody(
    client: httpx.Client, fake_llm: FakeLLM, arguments: dict[str, Any], expected: str
) -> None:
    caller = agent(client, WAIT)
    fake_llm.script(reply.tool_call(WAIT, arguments), reply.text("Oops."))

    body = send(client, caller, "Say hi.")

    returned = tool_returns(body)[0]
    assert returned["status"] == "error"
    assert expected in returned["tool_return"]
    assert len(fake_llm.chat_requests) == 2


def test_a_chain_deeper_than_the_limit_is_refused(client: httpx.Client, fake_llm: FakeLLM) -> None:
    first, second, third, fourth = (agent(client, WAIT) for _ in range(4))
    fake_llm.script(
        reply.tool_call(WAIT, {"message": "pass it on", "other_agent_id": second}),
        reply.tool_call(WAIT, {"message": "pass it on", "other_agent_id": third}),
        reply.tool_call(WAIT, {"message": "pass it on", "other_agent_id": fourth}),
        reply.text("The chain stops here."),
        reply.text("Third said it stops."),
        reply.text("Done."),
    )

    body = send(client, first, "Start the chain.")

    refused = fake_llm.chat_requests[3].tool_results[-1]
    assert refused.startswith("Error: ") and "ENGRAM_AGENT_CALL_DEPTH" in refused
    assert runs_of(client, fourth) == []
    assert ast.literal_eval(tool_returns(body)[0]["tool_return"])["response"] == [
        "Third said it stops."
    ]


def test_calling_back_the_agent_that_waits_is_refused_not_a_deadlock(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    first, second = agent(client, WAIT), agent(client, WAIT)
    fake_llm.script(
        reply.tool_call(WAIT, {"message": "ask me back", "other_agent_id": second}),
        reply.tool_call(WAIT, {"message": "back to you", "other_agent_id": first}),
        reply.text("The first agent is busy."),
        reply.text("Done."),
    )

    body = send(client, first, "Ping the other one.")

    refused = fake_llm.chat_requests[2].tool_results[-1]
    assert refused.startswith("Error: ") and "running another turn" in refused
    assert body["messages"][-1]["content"] == "Done."
    assert [run["status"] for run in runs_of(client, first)] == ["completed"]


def test_an_approved_call_to_another_agent_runs_when_approved(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    target = agent(client)
    rules = [{"type": "requires_approval", "tool_name": WAIT}]
    caller = agent(client, WAIT, tool_rules=rules)
    call = {"message": "Ready?", "other_agent_id": target}
    fake_llm.script(reply.tool_call(WAIT, call, id="call_ask"))
    held = send(client, caller, "Ask whether they are ready.")
    assert held["stop_reason"]["stop_reason"] == "requires_approval"
    assert runs_of(client, target) == []
    fake_llm.script(reply.text("Ready."), reply.text("They are ready."))

    approval = {"type": "approval", "tool_call_id": "call_ask", "approve": True}
    response = client.post(f"/v1/agents/{caller}/messages", json={"messages": [approval]})

    assert response.status_code == 200, response.text
    returned = tool_returns(response.json())[0]
    assert returned["status"] == "success"
    assert ast.literal_eval(returned["tool_return"])["response"] == ["Ready."]
    assert [run["status"] for run in runs_of(client, target)] == ["completed"]


def test_an_async_message_queues_the_targets_turn_and_returns_at_once(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    target = agent(client)
    caller = agent(client, ASYNC)

    def route(request: FakeRequest) -> Reply:
        # The target's queued turn and the caller's next step may ask in either order.
        if "one-way message" in request.all_text and not request.tool_results:
            return reply.text("Noted.")
        return reply.text("Sent it.")

    fake_llm.script(
        reply.tool_call(ASYNC, {"message": "FYI: the build is green", "other_agent_id": target}),
        route,
        route,
    )

    body = send(client, caller, "Tell the other agent.")

    assert tool_returns(body)[0]["tool_return"] == "Successfully sent message"
    deadline = time.monotonic() + 30
    while True:
        runs = runs_of(client, target)
        if runs and runs[0]["status"] in ("completed", "failed"):
            break
        assert time.monotonic() < deadline, runs
        time.sleep(0.1)
    assert runs[0]["status"] == "completed" and runs[0]["background"] is True
    messages = client.get(f"/v1/runs/{runs[0]['id']}/messages").json()
    assert any(m.get("content") == "Noted." for m in messages)


def test_a_queued_turn_keeps_its_depth(client: httpx.Client, fake_llm: FakeLLM) -> None:
    names = ("FIRST", "SECOND", "THIRD", "FOURTH")
    ids = {name: agent(client, WAIT, ASYNC, system=f"Agent {name}.") for name in names}
    calls = {
        "FIRST": (WAIT, "SECOND"),  # depth 1
        "SECOND": (ASYNC, "THIRD"),  # depth 2, queued
        "THIRD": (WAIT, "FOURTH"),  # would be depth 3: refused
    }

    def route(request: FakeRequest) -> Reply:
        # The queued turn and the waiting chain ask in no fixed order: answer by agent.
        name = next(name for name in names if f"Agent {name}." in request.system_text)
        if name in calls and not request.tool_results:
            tool, target = calls[name]
            return reply.tool_call(tool, {"message": "go", "other_agent_id": ids[target]})
        return reply.text(f"{name} done.")

    fake_llm.script(*[route] * 6)

    send(client, ids["FIRST"], "Start.")

    deadline = time.monotonic() + 30
    while not [r for r in runs_of(client, ids["THIRD"]) if r["status"] == "completed"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    third_run = runs_of(client, ids["THIRD"])[0]["id"]
    returns = [
        m
        for m in client.get(f"/v1/runs/{third_run}/messages").json()
        if m["message_type"] == "tool_return_message"
    ]
    assert returns[0]["status"] == "error"
    assert "ENGRAM_AGENT_CALL_DEPTH" in returns[0]["tool_return"]
    assert runs_of(client, ids["FOURTH"]) == []


def test_tags_reach_every_matching_agent_and_collect_their_replies(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    red = agent(client, tags=["crew-a2a", "red"], system="You are RED.")
    blue = agent(client, tags=["crew-a2a", "blue"], system="You are BLUE.")
    agent(client, tags=["crew-a2a"], system="You are PLAIN.")
    agent(client, tags=["red"], system="You are OUTSIDER.")
    caller = agent(client, TAGS, tags=["crew-a2a", "red"])

    def answer(request: FakeRequest) -> Reply:
        return reply.text("red here" if "You are RED." in request.system_text else "blue here")

    call = {"message": "Roll call", "match_all": ["crew-a2a"], "match_some": ["red", "blue"]}
    fake_llm.script(reply.tool_call(TAGS, call), answer, answer, reply.text("Both answered."))

    body = send(client, caller, "Who is there?")

    returned = tool_returns(body)[0]
    assert returned["status"] == "success"
    replies = {
        item["agent_id"]: item["response"] for item in ast.literal_eval(returned["tool_return"])
    }
    assert replies == {red: ["red here"], blue: ["blue here"]}
    assert len(runs_of(client, red)) == 1 and len(runs_of(client, blue)) == 1


def test_a_letta_client_user_wires_two_agents_together(
    server: EngramServer, fake_llm: FakeLLM
) -> None:
    with letta_client_for(server) as letta:
        helper = letta.agents.create(model=MODEL, name="helper-a2a")
        boss = letta.agents.create(model=MODEL, name="boss-a2a", tools=[WAIT])
        assert WAIT in [tool.name for tool in boss.tools]
        fake_llm.script(
            reply.tool_call(WAIT, {"message": "Status?", "other_agent_id": helper.id}),
            reply.text("All good."),
            reply.text("Helper reports all good."),
        )

        response = letta.agents.messages.create(
            agent_id=boss.id, messages=[{"role": "user", "content": "Check on the helper."}]
        )

        returned = [m for m in response.messages if m.message_type == "tool_return_message"]
        assert ast.literal_eval(returned[0].tool_return) == {
            "agent_id": helper.id,
            "response": ["All good."],
        }
        helper_runs = letta.runs.list(agent_id=helper.id)
        assert [run.status for run in helper_runs] == ["completed"]
