"""Streaming a turn as server-sent events: per step and per token, in the order and shapes
Letta sends them; a client that disconnects stops receiving, never the agent."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from engram.jobs import InProcessJobs
from engram.runtime import streaming
from engram.runtime.step import TurnResult
from tests.api.conftest import AgentFactory
from tests.fakes import FakeLLM, reply

LETTA_MESSAGE_BASE = {
    "id", "date", "name", "message_type", "otid", "sender_id", "step_id", "is_err", "seq_id",
    "run_id",
}  # fmt: skip
USAGE_KEYS = {
    "message_type", "completion_tokens", "prompt_tokens", "total_tokens", "step_count",
    "run_ids", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "context_tokens",
}  # fmt: skip
DONE = "[DONE]"


def parse_sse(lines: list[str]) -> list[dict[str, Any] | str]:
    """The ``data:`` payloads of an event stream: JSON objects, and ``[DONE]`` as a string."""
    events: list[dict[str, Any] | str] = []
    for line in lines:
        if not line.startswith("data: "):
            assert line == "", f"unexpected SSE line {line!r}"
            continue
        data = line.removeprefix("data: ")
        events.append(data if data == DONE else json.loads(data))
    return events


def stream(
    api: httpx.Client, agent_id: str, text: str, path: str = "messages/stream", **options: Any
) -> list[dict[str, Any] | str]:
    body = {"messages": [{"role": "user", "content": text}], **options}
    with api.stream("POST", f"/v1/agents/{agent_id}/{path}", json=body) as response:
        assert response.status_code == 200, response.read().decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(list(response.iter_lines()))


def kinds(events: list[dict[str, Any] | str]) -> list[str]:
    return [e if isinstance(e, str) else e["message_type"] for e in events]


def wait_for_run(
    api: httpx.Client, run_id: str, timeout: float = 10.0, *, finished: bool = True
) -> dict[str, Any]:
    """Poll a run until it has ended (``completed_at`` set)."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/v1/runs/{run_id}")
        assert response.status_code == 200, response.text
        run = response.json()
        if run["completed_at"] is not None or time.monotonic() > deadline:
            return run
        time.sleep(0.05)


@pytest.fixture
def agent(make_agent: AgentFactory) -> dict[str, Any]:
    return make_agent(memory_blocks=[{"label": "human", "value": "Name: Ada", "limit": 500}])


def script_memory_then_answer(fake_llm: FakeLLM, **answer_options: Any) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Has a dog, Rex."}),
        reply.text("Noted: your dog is Rex.", **answer_options),
    )


# --------------------------------------------------------------------------- per step


def test_step_stream_sends_ping_messages_stop_reason_usage_then_done(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    script_memory_then_answer(fake_llm)

    events = stream(api, agent["id"], "remember: my dog is Rex")

    assert kinds(events) == [
        "ping",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
        "stop_reason",
        "usage_statistics",
        DONE,
    ]
    ping, call, result, answer, stop, usage, _ = events
    assert isinstance(ping, dict) and set(ping) == LETTA_MESSAGE_BASE
    run_id = ping["run_id"]
    assert ping["id"].startswith("ping-") and run_id.startswith("run-")
    for message in (call, result, answer):
        assert isinstance(message, dict) and set(message) >= LETTA_MESSAGE_BASE
        assert message["run_id"] == run_id
    assert call["tool_call"]["name"] == "core_memory_append"
    assert isinstance(call["tool_calls"], list)
    assert json.loads(call["tool_call"]["arguments"])["content"] == "Has a dog, Rex."
    assert result["tool_call_id"] == call["tool_call"]["tool_call_id"]
    assert result["status"] == "success" and result["name"] == "core_memory_append"
    assert call["step_id"] == result["step_id"] != answer["step_id"]
    assert answer["content"] == "Noted: your dog is Rex."
    assert stop == {"message_type": "stop_reason", "stop_reason": "end_turn"}
    assert isinstance(usage, dict) and set(usage) == USAGE_KEYS
    assert usage["step_count"] == 2
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0

    run = wait_for_run(api, run_id)
    assert (run["status"], run["stop_reason"], run["background"]) == (
        "completed",
        "end_turn",
        False,
    )
    history = api.get(f"/v1/agents/{agent['id']}/messages", params={"order": "asc"}).json()
    assert [m["id"] for m in history[-3:]] == [call["id"], result["id"], answer["id"]]


def test_streaming_true_on_send_message_answers_with_the_same_event_stream(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("Hello there."))

    events = stream(api, agent["id"], "hi", path="messages", streaming=True, include_pings=False)

    assert kinds(events) == ["assistant_message", "stop_reason", "usage_statistics", DONE]
    assert events[0]["content"] == "Hello there."  # type: ignore[index]


# --------------------------------------------------------------------------- per token


def test_token_stream_sends_pieces_that_share_their_message_id_and_none_twice(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    script_memory_then_answer(fake_llm, reasoning="The user shared a fact about a pet.")

    events = stream(api, agent["id"], "remember: my dog is Rex", stream_tokens=True)

    order = kinds(events)
    assert order[0] == "ping" and order[-3:] == ["stop_reason", "usage_statistics", DONE]
    messages = [e for e in events[1:-3] if isinstance(e, dict)]
    calls = [m for m in messages if m["message_type"] == "tool_call_message"]
    results = [m for m in messages if m["message_type"] == "tool_return_message"]
    thoughts = [m for m in messages if m["message_type"] == "reasoning_message"]
    answers = [m for m in messages if m["message_type"] == "assistant_message"]
    assert len(results) == 1 and len(calls) >= 2 and len(thoughts) >= 2 and len(answers) >= 2

    # The call: name and id first, then argument pieces; one id for every chunk.
    assert calls[0]["tool_call"] == {
        "name": "core_memory_append",
        "tool_call_id": results[0]["tool_call_id"],
    }
    assert calls[0]["tool_calls"] == calls[0]["tool_call"]
    assert all(set(c["tool_call"]) == {"arguments", "tool_call_id"} for c in calls[1:])
    arguments = "".join(c["tool_call"]["arguments"] for c in calls[1:])
    assert json.loads(arguments) == {"label": "human", "content": "Has a dog, Rex."}
    assert len({c["id"] for c in calls}) == 1 and len({c["step_id"] for c in calls}) == 1
    assert order.index("tool_return_message") > order.index("tool_call_message")

    # The answer: reasoning then text, in pieces that add up; nothing resent whole.
    assert "".join(t["reasoning"] for t in thoughts) == "The user shared a fact about a pet."
    assert "".join(a["content"] for a in answers) == "Noted: your dog is Rex."
    assert len({m["id"] for m in thoughts + answers}) == 1
    assert answers[0]["step_id"] != calls[0]["step_id"]
    for message in messages:
        assert set(message) >= LETTA_MESSAGE_BASE

    # The ids streamed are the ids stored.
    history = api.get(f"/v1/agents/{agent['id']}/messages", params={"order": "asc"}).json()
    stored = {(m["message_type"], m["id"]) for m in history}
    assert ("tool_call_message", calls[0]["id"]) in stored
    assert ("assistant_message", answers[0]["id"]) in stored
    assert ("reasoning_message", thoughts[0]["id"]) in stored
    answer = next(
        m
        for m in history
        if m["message_type"] == "assistant_message" and m["id"] == answers[0]["id"]
    )
    assert answer["content"] == "Noted: your dog is Rex."


def test_token_stream_of_a_memgpt_agent_sends_send_message_as_one_assistant_message(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(agent_type="memgpt_v2_agent")
    fake_llm.script(reply.tool_call("send_message", {"message": "Hi Ada, good to see you."}))

    events = stream(api, agent["id"], "hello", stream_tokens=True, include_pings=False)

    assert kinds(events) == ["assistant_message", "stop_reason", "usage_statistics", DONE]
    assert events[0]["content"] == "Hi Ada, good to see you."  # type: ignore[index]


# --------------------------------------------------------------------------- failures


def test_stream_to_an_unknown_agent_is_a_404_and_records_no_run(api: httpx.Client) -> None:
    before = api.get("/v1/runs/", params={"limit": 1000}).json()
    response = api.post(
        "/v1/agents/agent-00000000-0000-4000-8000-000000000000/messages/stream",
        json={"messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 404
    assert "agent-00000000-0000-4000-8000-000000000000" in response.json()["detail"]
    assert api.get("/v1/runs/", params={"limit": 1000}).json() == before


def test_stream_without_messages_is_a_422_naming_the_field(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    response = api.post(f"/v1/agents/{agent['id']}/messages/stream", json={"messages": []})
    assert response.status_code == 422
    assert "messages" in response.json()["detail"]


def test_provider_failure_streams_an_error_then_stop_reason_llm_api_error(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.error(400, "bad request from the fake"))

    events = stream(api, agent["id"], "hi", include_pings=False)

    assert kinds(events) == ["error_message", "stop_reason", "usage_statistics", DONE]
    error, stop = events[0], events[1]
    assert isinstance(error, dict) and "bad request from the fake" in error["message"]
    assert error["error_type"] == "llm_api_error" and error["run_id"].startswith("run-")
    assert stop == {"message_type": "stop_reason", "stop_reason": "llm_api_error"}
    run = wait_for_run(api, error["run_id"])
    assert (run["status"], run["stop_reason"]) == ("failed", "llm_api_error")


# --------------------------------------------------------------------------- disconnects


def test_disconnecting_mid_stream_lets_the_run_finish_and_persist(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    script_memory_then_answer(fake_llm, delay=1.0)
    body = {"messages": [{"role": "user", "content": "remember: my dog is Rex"}]}

    seen: list[dict[str, Any] | str] = []
    with api.stream("POST", f"/v1/agents/{agent['id']}/messages/stream", json=body) as response:
        for line in response.iter_lines():
            seen += parse_sse([line])
            if "tool_return_message" in kinds(seen):
                break  # leave while the second model call is still pending
    run_id = seen[0]["run_id"]  # type: ignore[index]

    run = wait_for_run(api, run_id)
    assert (run["status"], run["stop_reason"]) == ("completed", "end_turn")
    messages = api.get(f"/v1/runs/{run_id}/messages").json()
    assert [m["message_type"] for m in messages][-1] == "assistant_message"
    assert messages[-1]["content"] == "Noted: your dog is Rex."
    assert len(fake_llm.chat_requests) == 2
    # The agent is whole and answers the next request as usual.
    fake_llm.script(reply.text("Still here."))
    events = stream(api, agent["id"], "still there?", include_pings=False)
    assert events[0]["content"] == "Still here."  # type: ignore[index]


# --------------------------------------------------------------------------- keep-alive


@pytest.mark.parametrize("include_pings", [True, False])
def test_a_quiet_turn_gets_a_ping_each_interval_only_when_pings_are_asked_for(
    monkeypatch: pytest.MonkeyPatch, include_pings: bool
) -> None:
    async def slow_turn(_rt: Any, _agent_id: str, _inputs: Any, **sinks: Any) -> TurnResult:
        await asyncio.sleep(0.35)
        await sinks["on_message"]({"message_type": "assistant_message", "id": "message-1"})
        return TurnResult(run_id=sinks["run_id"], messages=[], stop_reason="end_turn")

    monkeypatch.setattr(streaming, "run_turn", slow_turn)

    async def collect() -> list[Any]:
        jobs = InProcessJobs()
        turn = streaming.TurnStream(
            SimpleNamespace(jobs=jobs),  # type: ignore[arg-type]
            "agent-1",
            "run-1",
            [],
            max_steps=5,
            stream_tokens=False,
            include_pings=include_pings,
            ping_seconds=0.1,
        )
        events = [event async for event in turn.events()]
        await jobs.close()
        return events

    events = asyncio.run(collect())

    names = kinds(events)
    pings = names.count("ping")
    assert names[pings:] == ["assistant_message", "stop_reason", "usage_statistics", DONE]
    if include_pings:
        assert pings >= 3  # one at the start, then one per quiet interval
        assert all(e["run_id"] == "run-1" for e in events[:pings])
    else:
        assert pings == 0
