"""Agents whose model calls tools in plain text (``llm_config.tool_call_format: json_text``):
the model is offered no native tools, writes its calls as JSON blocks, and the step loop runs
them as it runs native calls; everything the model reads back is text in the same form."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import MODEL, AgentFactory, core_memory, error_fields
from tests.fakes import FakeLLM, reply
from tests.helpers import send

MEMORY = [
    {"label": "persona", "value": "I am a small local model."},
    {"label": "human", "value": "Name: Ada", "limit": 200},
]


def types(body: dict[str, Any]) -> list[str]:
    return [message["message_type"] for message in body["messages"]]


def call_block(tool: str, **arguments: Any) -> str:
    return f"```json\n{json.dumps({'tool': tool, 'arguments': arguments})}\n```"


@pytest.fixture
def agent(make_agent: AgentFactory) -> dict[str, Any]:
    return make_agent(memory_blocks=MEMORY, tool_call_format="json_text")


# --------------------------------------------------------------------------- configuration


def test_the_option_is_stored_in_llm_config_and_defaults_to_native(
    api: httpx.Client, make_agent: AgentFactory, agent: dict[str, Any]
) -> None:
    assert agent["llm_config"]["tool_call_format"] == "json_text"
    fetched = api.get(f"/v1/agents/{agent['id']}").json()
    assert fetched["llm_config"]["tool_call_format"] == "json_text"
    assert make_agent()["llm_config"]["tool_call_format"] == "native"


def test_the_option_can_be_given_inside_llm_config(
    api: httpx.Client, make_agent: AgentFactory, agent: dict[str, Any]
) -> None:
    config = {**agent["llm_config"], "tool_call_format": "json_text"}
    created = make_agent(model=None, llm_config=config)
    assert created["llm_config"]["tool_call_format"] == "json_text"


def test_patch_switches_the_format_and_a_new_model_keeps_it(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    path = f"/v1/agents/{agent['id']}"

    changed = api.patch(path, json={"tool_call_format": "json_text"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["llm_config"]["tool_call_format"] == "json_text"

    moved = api.patch(path, json={"model": MODEL})
    assert moved.status_code == 200, moved.text
    assert moved.json()["llm_config"]["tool_call_format"] == "json_text"

    config = {**moved.json()["llm_config"], "tool_call_format": "native"}
    back = api.patch(path, json={"llm_config": config})
    assert back.status_code == 200, back.text
    assert back.json()["llm_config"]["tool_call_format"] == "native"


@pytest.mark.parametrize("where", ["llm_config", "top level", "patch"])
def test_an_unknown_format_is_a_422_naming_the_field(
    api: httpx.Client, make_agent: AgentFactory, where: str
) -> None:
    if where == "patch":
        agent = make_agent()
        response = api.patch(f"/v1/agents/{agent['id']}", json={"tool_call_format": "xml"})
    elif where == "top level":
        response = api.post("/v1/agents/", json={"model": MODEL, "tool_call_format": "xml"})
    else:
        config = {"model": "gpt-4o-mini", "context_window": 8192, "tool_call_format": "xml"}
        response = api.post("/v1/agents/", json={"llm_config": config})

    assert response.status_code == 422, response.text
    assert "tool_call_format" in error_fields(response)
    if where == "llm_config":
        locations = [error["loc"] for error in response.json()["detail"]]
        assert ["body", "llm_config", "tool_call_format"] in locations


# --------------------------------------------------------------------------- what the model sees


def test_the_model_gets_no_native_tools_but_the_convention_and_tool_list_in_the_system(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("Hello Ada."))

    body = send(api, agent["id"], "hi")

    assert types(body) == ["assistant_message"]
    request = fake_llm.chat_requests[0]
    assert "tools" not in request.json and request.tool_names == []
    system = request.system_text
    assert system.startswith(agent["system"])
    assert '{"tool": "<tool name>", "arguments":' in system
    assert "```json" in system and "plain text" in system
    for tool in agent["tools"]:
        if tool["name"] != "send_message":
            assert f"## {tool['name']}" in system
    assert '"label"' in system  # the argument schemas are spelled out


def test_a_native_agent_still_gets_native_tools(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=MEMORY)
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Likes tea."}),
        reply.text("Noted."),
    )

    body = send(api, agent["id"], "I like tea.")

    assert types(body) == ["tool_call_message", "tool_return_message", "assistant_message"]
    first, second = fake_llm.chat_requests
    assert "core_memory_append" in first.tool_names
    assert '"tool": "<tool name>"' not in first.system_text
    assert second.last_role == "tool"


# --------------------------------------------------------------------------- calls in text


def test_a_json_block_runs_the_tool_and_its_result_goes_back_as_a_marked_user_message(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    block = call_block("core_memory_append", label="human", content="Likes green tea.")
    fake_llm.script(reply.text(f"I will remember that.\n\n{block}"), reply.text("Noted, Ada."))

    body = send(api, agent["id"], "I like green tea.")

    assert types(body) == [
        "assistant_message",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
    ]
    thought, call, result, answer = body["messages"]
    assert thought["content"] == "I will remember that."
    assert call["tool_call"]["name"] == "core_memory_append"
    assert json.loads(call["tool_call"]["arguments"]) == {
        "label": "human",
        "content": "Likes green tea.",
    }
    assert call["tool_call"]["tool_call_id"].startswith("call_")
    assert result["status"] == "success"
    assert answer["content"] == "Noted, Ada."
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    assert core_memory(api, agent["id"])["human"] == "Name: Ada\nLikes green tea."

    second = fake_llm.chat_requests[1]
    assert "tools" not in second.json
    assert all(m["role"] != "tool" and "tool_calls" not in m for m in second.messages)
    assert second.messages[-2] == {
        "role": "assistant",
        "content": f"I will remember that.\n\n{block}",
    }
    marked = second.last_message
    assert marked["role"] == "user"
    call_id = call["tool_call"]["tool_call_id"]
    assert marked["content"].startswith(
        f'<tool_result tool="core_memory_append" call_id="{call_id}">\n'
    )
    assert result["tool_return"] in marked["content"]
    assert "Likes green tea." in second.system_text  # the edited block is in view


def test_two_blocks_in_one_reply_are_two_calls_in_order(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    first = call_block("core_memory_append", label="human", content="Has a cat.")
    second = call_block("archival_memory_insert", content="Ada's cat is called Tom.")
    fake_llm.script(reply.text(f"{first}\n{second}"), reply.text("Saved both."))

    body = send(api, agent["id"], "My cat is Tom.")

    assert types(body) == [
        "tool_call_message",
        "tool_call_message",
        "tool_return_message",
        "tool_return_message",
        "assistant_message",
    ]
    names = [m["tool_call"]["name"] for m in body["messages"][:2]]
    assert names == ["core_memory_append", "archival_memory_insert"]
    assert [m["status"] for m in body["messages"][2:4]] == ["success", "success"]
    assert core_memory(api, agent["id"])["human"].endswith("Has a cat.")
    passages = api.get(f"/v1/agents/{agent['id']}/archival-memory").json()
    assert [p["text"] for p in passages] == ["Ada's cat is called Tom."]
    # Both results go back in one user message, each marked with its own call.
    back = fake_llm.chat_requests[1].last_message
    assert back["role"] == "user"
    assert back["content"].count("<tool_result ") == 2
    assert back["content"].index("core_memory_append") < back["content"].index(
        "archival_memory_insert"
    )


def test_a_malformed_block_gets_an_error_result_and_the_model_can_retry(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    broken = '```json\n{"tool": "core_memory_append", "arguments": {"label": "human",}}\n```'
    fixed = call_block("core_memory_append", label="human", content="Born in 1815.")
    fake_llm.script(reply.text(broken), reply.text(fixed), reply.text("Saved."))

    body = send(api, agent["id"], "I was born in 1815.")

    assert types(body) == [
        "tool_call_message",
        "tool_return_message",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
    ]
    failed, retried = body["messages"][1], body["messages"][3]
    assert failed["status"] == "error"
    assert "arguments must be a JSON object" in failed["tool_return"]
    assert retried["status"] == "success"
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    assert core_memory(api, agent["id"])["human"] == "Name: Ada\nBorn in 1815."

    retry_request = fake_llm.chat_requests[1]
    assert retry_request.messages[-2]["content"] == broken  # its own block, verbatim
    feedback = retry_request.last_message["content"]
    assert failed["tool_return"] in feedback
    assert "does not parse" in feedback


def test_a_block_that_names_no_tool_is_reported_with_the_available_tools(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("```json\n{tool: core_memory_append\n```"), reply.text("Sorry."))

    body = send(api, agent["id"], "remember I like jazz")

    assert types(body) == ["tool_call_message", "tool_return_message", "assistant_message"]
    result = body["messages"][1]
    assert result["status"] == "error"
    assert "core_memory_append" in result["tool_return"]  # listed among available tools
    assert body["stop_reason"]["stop_reason"] == "end_turn"


def test_a_json_text_memgpt_agent_answers_through_send_message_in_text(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(agent_type="memgpt_v2_agent", tool_call_format="json_text")
    fake_llm.script(reply.text(call_block("send_message", message="Hello, Ada.")))

    body = send(api, agent["id"], "hi")

    assert types(body) == ["assistant_message"]
    assert body["messages"][0]["content"] == "Hello, Ada."
    assert "## send_message" in fake_llm.chat_requests[0].system_text


# --------------------------------------------------------------------------- streaming


def parse_sse(lines: list[str]) -> list[Any]:
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


@pytest.mark.parametrize("stream_tokens", [False, True])
def test_streaming_a_json_text_agent_delivers_the_parsed_answer(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any], stream_tokens: bool
) -> None:
    block = call_block("core_memory_append", label="human", content="Plays chess.")
    fake_llm.script(reply.text(block), reply.text("Good to know you play chess."))

    request = {
        "messages": [{"role": "user", "content": "I play chess."}],
        "stream_tokens": stream_tokens,
        "include_pings": False,
    }
    path = f"/v1/agents/{agent['id']}/messages/stream"
    with api.stream("POST", path, json=request) as response:
        assert response.status_code == 200
        events = parse_sse(list(response.iter_lines()))

    kinds = [event["message_type"] for event in events]
    assert kinds == [
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
        "stop_reason",
        "usage_statistics",
    ]
    assert events[0]["tool_call"]["name"] == "core_memory_append"
    assert events[2]["content"] == "Good to know you play chess."
    assert not any("```" in json.dumps(event) for event in events[2:])
    assert events[3]["stop_reason"] == "end_turn"
    assert core_memory(api, agent["id"])["human"].endswith("Plays chess.")
    # The model is asked for a whole reply: raw JSON never streams as the answer.
    assert not any(r.stream for r in fake_llm.chat_requests)
