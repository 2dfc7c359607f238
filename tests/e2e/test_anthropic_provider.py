"""Agents on Anthropic models, end to end: a real ``engram serve`` talks through the
official ``anthropic`` SDK to the fake LLM's Messages API wire mode.

The fake checks requests the way the API does (system prompt at the top level, tool
results answering the previous turn's tool uses, signed thinking sent back first), so
a conversion mistake fails here as a 400 would in production.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes import FakeLLM, reply, thinking_signature
from tests.helpers import conversation as history
from tests.helpers import send
from tests.support.backends import Backend
from tests.support.server import EngramServer

CLAUDE = "claude-fake-sonnet"
HANDLE = f"anthropic/{CLAUDE}"


@pytest.fixture(scope="module")
def claude() -> Iterator[FakeLLM]:
    with FakeLLM(models=[CLAUDE], api_key="test-key") as fake:
        yield fake


@pytest.fixture(scope="module")
def server(
    claude: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[EngramServer]:
    # OPENAI_* point at the same fake (EngramServer always sets them); the agents here use
    # the anthropic/ handles only.
    data_dir: Path = tmp_path_factory.mktemp("anthropic-data")
    engram = EngramServer(
        data_dir,
        claude.base_url,
        extra_env={"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": claude.url},
        database_url=backend.database_url(),
    )
    engram.start()
    yield engram
    engram.stop()


@pytest.fixture
def fake(claude: FakeLLM) -> Iterator[FakeLLM]:
    claude.reset()
    yield claude
    errors = claude.errors
    claude.reset()
    assert not errors, f"fake LLM handler raised: {errors[0]!r}"


@pytest.fixture
def api(server: EngramServer, fake: FakeLLM) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture
def agent(api: httpx.Client) -> Iterator[dict[str, Any]]:
    response = api.post(
        "/v1/agents/",
        json={
            "model": HANDLE,
            "system": "You are Claude, a careful test agent.",
            "memory_blocks": [
                {"label": "persona", "value": "I am a helpful test agent."},
                {"label": "human", "value": "Name: Ada"},
            ],
        },
    )
    assert response.status_code == 200, response.text
    created = response.json()
    yield created
    api.delete(f"/v1/agents/{created['id']}")


def types(messages: list[dict[str, Any]]) -> list[str]:
    return [message["message_type"] for message in messages]


def test_anthropic_models_are_offered_by_handle(api: httpx.Client, agent: dict[str, Any]) -> None:
    handles = [model["handle"] for model in api.get("/v1/models/").json()]
    assert HANDLE in handles
    assert agent["llm_config"]["model"] == CLAUDE
    assert agent["llm_config"]["provider_name"] == "anthropic"


def test_plain_answer(api: httpx.Client, fake: FakeLLM, agent: dict[str, Any]) -> None:
    fake.script(reply.text("Hello Ada, how can I help?"))

    body = send(api, agent["id"], "Hi there")

    assert types(body["messages"]) == ["assistant_message"]
    assert body["messages"][0]["content"] == "Hello Ada, how can I help?"
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    (request,) = fake.chat_requests
    assert request.wire == "anthropic" and request.path == "/v1/messages"
    assert request.json["max_tokens"] > 0
    assert request.last_user_text == "Hi there"


def test_native_tool_use_round_trip_with_top_level_system_prompt(
    api: httpx.Client, fake: FakeLLM, agent: dict[str, Any]
) -> None:
    fake.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Likes tea."}),
        reply.text("I'll remember that you like tea."),
    )

    body = send(api, agent["id"], "I like tea")

    assert types(body["messages"]) == [
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
    ]
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    first, second = fake.chat_requests
    for request in (first, second):
        raw = request.json
        assert raw["system"].startswith("You are Claude, a careful test agent.")
        assert all(turn["role"] in ("user", "assistant") for turn in raw["messages"])
        tools = {tool["name"]: tool for tool in raw["tools"]}
        assert set(tools["core_memory_append"]) >= {"name", "description", "input_schema"}
    # The second request replays the call as tool_use and answers it with a tool_result.
    *_, asked, answered = second.json["messages"]
    (use,) = [block for block in asked["content"] if block["type"] == "tool_use"]
    assert use["name"] == "core_memory_append"
    assert use["input"] == {"label": "human", "content": "Likes tea."}
    assert answered["role"] == "user"
    (result,) = answered["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == use["id"]
    # The edited memory shows in the next system prompt.
    assert "Likes tea." not in first.json["system"]
    assert "Likes tea." in second.json["system"]


def test_thinking_is_shown_and_sent_back_with_its_signature(
    api: httpx.Client, fake: FakeLLM, agent: dict[str, Any]
) -> None:
    fake.script(
        reply.tool_call(
            "core_memory_append",
            {"label": "human", "content": "Birthday: May 3."},
            reasoning="Ada told me her birthday; I should store it.",
            redacted_thinking="EqQBCkYIARgCIkBvZmZpY2lhbA==",
        ),
        reply.text("Noted, Ada!", reasoning="Stored. Now confirm briefly."),
    )

    body = send(api, agent["id"], "My birthday is May 3")

    assert body["stop_reason"]["stop_reason"] == "end_turn"
    # The fake answers 400 unless the tool_use turn leads with its signed thinking.
    _, second = fake.chat_requests
    replayed = second.thinking_blocks
    assert replayed == [
        {
            "type": "thinking",
            "thinking": "Ada told me her birthday; I should store it.",
            "signature": thinking_signature("Ada told me her birthday; I should store it."),
        },
        {"type": "redacted_thinking", "data": "EqQBCkYIARgCIkBvZmZpY2lhbA=="},
    ]
    stored = history(api, agent["id"])
    assert types(stored) == [
        "user_message",
        "reasoning_message",
        "hidden_reasoning_message",
        "tool_call_message",
        "tool_return_message",
        "reasoning_message",
        "assistant_message",
    ]
    thought = stored[1]
    assert thought["reasoning"] == "Ada told me her birthday; I should store it."
    assert thought["signature"] == thinking_signature(thought["reasoning"])
    assert thought["source"] == "reasoner_model"
    hidden = stored[2]
    assert hidden["state"] == "redacted"
    assert hidden["hidden_reasoning"] == "EqQBCkYIARgCIkBvZmZpY2lhbA=="
    assert hidden["id"] == stored[3]["id"]  # parts of one stored assistant message
    assert stored[5]["reasoning"] == "Stored. Now confirm briefly."


def test_thinking_is_asked_for_with_the_agents_budget(api: httpx.Client, fake: FakeLLM) -> None:
    created = api.post(
        "/v1/agents/",
        json={"model": HANDLE, "enable_reasoner": True, "max_reasoning_tokens": 2048},
    )
    assert created.status_code == 200, created.text
    assert created.json()["llm_config"]["max_reasoning_tokens"] == 2048
    fake.script(reply.text("Thought it through.", reasoning="Weighing it."))

    send(api, created.json()["id"], "Think before you answer.")

    sent = fake.chat_requests[-1].json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["max_tokens"] > 2048
    assert "temperature" not in sent


def test_thinking_stays_off_unless_asked_for(
    api: httpx.Client, fake: FakeLLM, agent: dict[str, Any]
) -> None:
    fake.script(reply.text("Hi."))
    send(api, agent["id"], "Hello")
    assert "thinking" not in fake.chat_requests[-1].json


def test_a_thinking_budget_under_the_minimum_is_refused(api: httpx.Client) -> None:
    response = api.post("/v1/agents/", json={"model": HANDLE, "max_reasoning_tokens": 100})
    assert response.status_code == 422
    assert "max_reasoning_tokens" in response.text


def test_signed_and_redacted_thinking_survive_an_agent_file_round_trip(
    api: httpx.Client, fake: FakeLLM, agent: dict[str, Any]
) -> None:
    fake.script(
        reply.text(
            "Noted.", reasoning="Ada likes tea.", redacted_thinking="EqQBCkYIARgCIkBvZmZpY2lhbA=="
        )
    )
    send(api, agent["id"], "I like tea")
    exported = api.get(f"/v1/agents/{agent['id']}/export")
    assert exported.status_code == 200, exported.text

    imported = api.post(
        "/v1/agents/import", files={"file": ("agent.af", exported.content, "application/json")}
    )

    assert imported.status_code == 200, imported.text
    copy_id = imported.json()["agent_ids"][0]
    original, copy = history(api, agent["id"]), history(api, copy_id)
    shown = ["message_type", "reasoning", "signature", "hidden_reasoning", "state"]
    assert [{k: m.get(k) for k in shown} for m in copy] == [
        {k: m.get(k) for k in shown} for m in original
    ]
    assert "hidden_reasoning_message" in types(copy)


def stream_turn(api: httpx.Client, agent_id: str, text: str) -> list[tuple[float, Any]]:
    """The turn's SSE payloads with the time each arrived, ``[DONE]`` last."""
    request = {"messages": [{"role": "user", "content": text}], "stream_tokens": True}
    events: list[tuple[float, Any]] = []
    with api.stream("POST", f"/v1/agents/{agent_id}/messages/stream", json=request) as response:
        assert response.status_code == 200, response.read().decode()
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
                events.append((time.monotonic(), data if data == "[DONE]" else json.loads(data)))
    return events


def of_type(events: list[tuple[float, Any]], kind: str) -> list[tuple[float, dict[str, Any]]]:
    return [(t, e) for t, e in events if isinstance(e, dict) and e["message_type"] == kind]


def test_streaming_tokens_arrive_one_by_one(
    api: httpx.Client, fake: FakeLLM, agent: dict[str, Any]
) -> None:
    answer = "Tea is a fine choice for a rainy afternoon."
    # Pieces 0.1 s apart: a test client starved of CPU for a moment still sees them spread.
    fake.script(reply.text(answer, reasoning="Say something kind.", chunk_delay=0.1))

    events = stream_turn(api, agent["id"], "tea?")

    kinds = [e if isinstance(e, str) else e["message_type"] for _, e in events]
    assert kinds[-3:] == ["stop_reason", "usage_statistics", "[DONE]"]
    pieces = of_type(events, "assistant_message")
    assert len(pieces) >= 5
    assert "".join(e["content"] for _, e in pieces) == answer
    # Each piece went out as the model produced it, not all at once at the end.
    assert pieces[-1][0] - pieces[0][0] > 0.15
    thoughts = of_type(events, "reasoning_message")
    assert "".join(e["reasoning"] for _, e in thoughts) == "Say something kind."
    assert kinds.index("reasoning_message") < kinds.index("assistant_message")
    assert fake.chat_requests[-1].stream
    assert types(history(api, agent["id"]))[-2:] == ["reasoning_message", "assistant_message"]


def test_streamed_tool_use_arrives_as_call_chunks(
    api: httpx.Client, fake: FakeLLM, agent: dict[str, Any]
) -> None:
    fake.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Owns a cat."}),
        reply.text("Got it."),
    )

    events = stream_turn(api, agent["id"], "I have a cat")

    calls = [e for _, e in of_type(events, "tool_call_message")]
    assert calls[0]["tool_call"]["name"] == "core_memory_append"
    call_id = calls[0]["tool_call"]["tool_call_id"]
    assert call_id.startswith("toolu_")
    arguments = "".join(c["tool_call"].get("arguments") or "" for c in calls)
    assert json.loads(arguments) == {"label": "human", "content": "Owns a cat."}
    (returned,) = [e for _, e in of_type(events, "tool_return_message")]
    assert returned["tool_call_id"] == call_id and returned["status"] == "success"
    assert "".join(e["content"] for _, e in of_type(events, "assistant_message")) == "Got it."


@pytest.mark.parametrize("status", [500, 529])
def test_provider_error_ends_the_run_and_changes_nothing(
    api: httpx.Client, fake: FakeLLM, agent: dict[str, Any], status: int
) -> None:
    fake.script(reply.text("First answer."))
    send(api, agent["id"], "hello")
    before = history(api, agent["id"])
    # Enough failures to outlast the SDK's own retries.
    fake.script(*[reply.error(status, "Overloaded", retry_after=0.01) for _ in range(5)])

    response = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": "are you there?"}]},
    )

    assert response.status_code == 502, response.text
    body = response.json()
    assert body["stop_reason"]["stop_reason"] == "llm_api_error"
    assert body["error"]["type"] == "llm_error" and "Overloaded" in body["detail"]
    assert body["messages"] == []
    assert history(api, agent["id"]) == before
    assert len(fake.chat_requests) == 1 + 3  # the answer, then one call and two SDK retries


def test_a_stream_cut_off_midway_ends_the_run_and_stores_nothing(
    api: httpx.Client, fake: FakeLLM, agent: dict[str, Any]
) -> None:
    # The SDK raises the dropped connection as its own APIConnectionError from 2.17 on, as
    # the transport's error before: either way the provider reports it, nothing half-stored.
    fake.script(reply.text("First answer."))
    send(api, agent["id"], "hello")
    before = history(api, agent["id"])
    cut = reply.truncated_stream("The answer is forty")
    fake.fallback = lambda request: cut

    events = stream_turn(api, agent["id"], "What is the answer?")

    stops = [e for _, e in events if isinstance(e, dict) and e["message_type"] == "stop_reason"]
    assert stops and stops[-1]["stop_reason"] == "llm_api_error"
    assert history(api, agent["id"]) == before
