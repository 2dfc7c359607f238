"""Client-side tools (``client_tools``): offered to the model beside the agent's tools for
one request; a call of one stops the run with ``requires_approval``, and the client's tool
return resumes it through the approval path, on every route that starts a turn."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, detail_text, error_fields, message_count
from tests.fakes import FakeLLM, reply

CLIPBOARD = {
    "name": "read_clipboard",
    "description": "The text on the user's clipboard.",
    "parameters": {
        "type": "object",
        "properties": {"format": {"type": "string"}},
        "required": ["format"],
    },
}


def ask(api: httpx.Client, agent_id: str, route: str, **extra: Any) -> dict[str, Any]:
    """One request declaring the clipboard tool; the finished turn's messages and stop."""
    body = {"input": "What is on my clipboard?", "client_tools": [CLIPBOARD], **extra}
    response = api.post(f"/v1/agents/{agent_id}/{route}", json=body)
    assert response.status_code == 200, response.text
    if route == "messages":
        return dict(response.json())
    if route == "messages/stream":
        events = [
            line.removeprefix("data: ")
            for line in response.text.splitlines()
            if line.startswith("data: {")
        ]

        parsed = [json.loads(event) for event in events]
        stop = next(e for e in parsed if e.get("message_type") == "stop_reason")
        return {"messages": parsed, "stop_reason": stop}
    run = response.json()
    return finished_run(api, run["id"])


def finished_run(api: httpx.Client, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = api.get(f"/v1/runs/{run_id}").json()
        if run["status"] not in ("created", "running"):
            messages = api.get(f"/v1/runs/{run_id}/messages").json()
            return {"messages": messages, "stop_reason": {"stop_reason": run["stop_reason"]}}
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


@pytest.mark.parametrize("route", ["messages", "messages/stream", "messages/async"])
def test_a_client_tool_call_stops_the_run_and_its_return_resumes_it(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, route: str
) -> None:
    agent = make_agent()
    fake_llm.script(reply.tool_call("read_clipboard", {"format": "text"}, id="c_clip"))

    asked = ask(api, agent["id"], route)

    # The model was offered the client's tool, as declared, beside the agent's own.
    (offered,) = fake_llm.chat_requests
    assert "read_clipboard" in offered.tool_names
    assert "archival_memory_search" in offered.tool_names
    assert offered.tool_schema("read_clipboard") == CLIPBOARD["parameters"]
    assert asked["stop_reason"]["stop_reason"] == "requires_approval"
    (request,) = [
        m for m in asked["messages"] if m.get("message_type") == "approval_request_message"
    ]
    assert request["tool_call"]["name"] == "read_clipboard"
    assert request["tool_call"]["tool_call_id"] == "c_clip"
    pending = api.get(f"/v1/agents/{agent['id']}").json()["pending_approval"]
    assert pending["tool_call"]["tool_call_id"] == "c_clip"

    fake_llm.script(reply.text("Your clipboard says: hello world."))
    answer = {
        "type": "tool_return",
        "tool_returns": [
            {
                "type": "tool",
                "tool_call_id": "c_clip",
                "tool_return": "hello world",
                "status": "success",
            }
        ],
    }
    response = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [answer], "client_tools": [CLIPBOARD]},
    )

    assert response.status_code == 200, response.text
    resumed = response.json()
    kinds = [m["message_type"] for m in resumed["messages"]]
    assert kinds == ["approval_response_message", "tool_return_message", "assistant_message"]
    assert resumed["messages"][1]["tool_return"] == "hello world"
    assert resumed["stop_reason"]["stop_reason"] == "end_turn"
    # The model read the client's result as the call's result.
    assert fake_llm.chat_requests[-1].tool_results[-1] == "hello world"


def test_without_client_tools_the_model_is_not_offered_them(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("Hi."))

    response = api.post(f"/v1/agents/{agent['id']}/messages", json={"input": "hi"})

    assert response.status_code == 200, response.text
    assert "read_clipboard" not in fake_llm.chat_requests[0].tool_names


def test_a_client_tool_call_cannot_be_approved_to_run_on_the_server(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.tool_call("read_clipboard", {"format": "text"}, id="c_clip"))
    ask(api, agent["id"], "messages")
    before = message_count(api, agent["id"])

    response = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"type": "approval", "approve": True}]},
    )

    assert response.status_code == 422, response.text
    assert error_fields(response) == ["messages.approve"]
    assert "tool return" in response.text
    assert message_count(api, agent["id"]) == before

    # A denial is still an answer: the model reads it as the call's error.
    fake_llm.script(reply.text("Alright, I will not look."))
    denied = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"type": "approval", "approve": False, "reason": "private"}]},
    )
    assert denied.status_code == 200, denied.text
    assert "private" in fake_llm.chat_requests[-1].tool_results[-1]


def test_a_client_tool_replaces_an_agent_tool_of_the_same_name_for_the_request(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    mine = {"name": "archival_memory_search", "description": "Search my own notes."}
    fake_llm.script(reply.tool_call("archival_memory_search", {"query": "tea"}, id="c_s"))

    asked = ask(api, agent["id"], "messages", client_tools=[mine])

    (offered,) = fake_llm.chat_requests
    assert offered.tool_names.count("archival_memory_search") == 1
    assert offered.tool_schema("archival_memory_search") == {"type": "object", "properties": {}}
    assert asked["stop_reason"]["stop_reason"] == "requires_approval"


@pytest.mark.parametrize(
    ("tools", "field"),
    [
        ([{"description": "no name"}], "client_tools.0.name"),
        ([{"name": "has space"}], "client_tools.0.name"),
        ([CLIPBOARD, CLIPBOARD], "client_tools"),
        ([{"name": "x", "parameters": "not an object"}], "client_tools.0.parameters"),
    ],
)
def test_a_bad_client_tool_is_refused_naming_the_field(
    api: httpx.Client,
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    tools: list[Any],
    field: str,
) -> None:
    agent = make_agent()
    before = message_count(api, agent["id"])

    response = api.post(
        f"/v1/agents/{agent['id']}/messages", json={"input": "hi", "client_tools": tools}
    )

    assert response.status_code == 422, response.text
    assert field in detail_text(response)
    assert message_count(api, agent["id"]) == before
    assert fake_llm.chat_requests == []
