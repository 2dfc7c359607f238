"""Turns and history through ``engram.Engram``: a turn runs through the same entry as
``POST /v1/agents/{id}/messages`` (the scripted fake LLM answering) and answers with the
same shapes; a stream yields the events the SSE stream carries; bad input is refused
naming the field, with nothing recorded."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from engram import Engram
from engram.client.messages import TurnFailed
from engram.errors import InvalidInput, NotFound
from tests.client.shapes import MODEL, new_agent, shape
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply

UNKNOWN_AGENT = "agent-00000000-0000-4000-8000-000000000000"


def said(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def rest_agent(api: httpx.Client) -> str:
    response = api.post("/v1/agents/", json={"model": MODEL})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def rest_turn(api: httpx.Client, agent_id: str, text: str) -> dict[str, Any]:
    response = api.post(f"/v1/agents/{agent_id}/messages", json={"messages": said(text)})
    assert response.status_code == 200, response.text
    return dict(response.json())


def rest_stream(api: httpx.Client, agent_id: str, text: str) -> list[dict[str, Any]]:
    body = {"messages": said(text), "include_pings": False}
    with api.stream("POST", f"/v1/agents/{agent_id}/messages/stream", json=body) as response:
        assert response.status_code == 200
        lines = [line.removeprefix("data: ") for line in response.iter_lines() if line]
    return [json.loads(line) for line in lines if line != "[DONE]"]


def test_a_turn_answers_as_the_api_does(
    engram_client: Engram, api: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(engram_client)
    fake_llm.script(reply.text("Hello Sam, nice to meet you."))

    answer = engram_client.agents.messages.create(agent_id, messages=said("hi, I am Sam"))

    assistant = [m for m in answer.messages if m.message_type == "assistant_message"]
    assert [m.model_dump()["content"] for m in assistant] == ["Hello Sam, nice to meet you."]
    assert answer.stop_reason.stop_reason == "end_turn"
    assert answer.usage.step_count == 1 and answer.usage.total_tokens > 0
    fake_llm.script(reply.text("Hello Sam, nice to meet you."))
    assert shape(answer) == shape(rest_turn(api, rest_agent(api), "hi, I am Sam"))


def test_a_streamed_turn_yields_the_sse_events(
    engram_client: Engram, api: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(engram_client)
    fake_llm.script(reply.text("Streaming hello."))

    events = list(
        engram_client.agents.messages.stream(agent_id, messages=said("hi"), include_pings=False)
    )

    kinds = [event.model_dump()["message_type"] for event in events]
    assert kinds[-2:] == ["stop_reason", "usage_statistics"]
    assert "assistant_message" in kinds
    fake_llm.script(reply.text("Streaming hello."))
    over_http = rest_stream(api, rest_agent(api), "hi")
    assert kinds == [event["message_type"] for event in over_http]
    assert shape(events) == shape(over_http)
    # The streamed turn is in the history, as a turn sent any other way.
    history = engram_client.agents.messages.list(agent_id, order="asc")
    assert "assistant_message" in [m.message_type for m in history]


def test_history_list_search_retrieve_and_reset(
    engram_client: Engram, api: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(engram_client)
    fake_llm.script(reply.text("Noted, you like green tea."), reply.text("Sure."))
    engram_client.agents.messages.create(agent_id, messages=said("I like green tea"))
    engram_client.agents.messages.create(agent_id, input="anything else?")

    newest_first = engram_client.agents.messages.list(agent_id)
    oldest_first = engram_client.agents.messages.list(agent_id, order="asc")
    assert [m.id for m in oldest_first] == [m.id for m in reversed(newest_first)]
    assert [m.message_type for m in engram_client.agents.messages.list(agent_id, limit=1)] == [
        "assistant_message"
    ]

    found = engram_client.messages.search(query="green tea", agent_id=agent_id, search_mode="fts")
    assert found and all(hit.agent_id == agent_id for hit in found)
    user_hit = next(hit for hit in found if hit.message_type == "user_message")
    assert [m.message_type for m in engram_client.messages.retrieve(user_hit.message_id)] == [
        "user_message"
    ]
    http_agent = rest_agent(api)
    fake_llm.script(reply.text("Noted, you like green tea."))
    rest_turn(api, http_agent, "I like green tea")
    http_found = api.post(
        "/v1/messages/search",
        json={"query": "green tea", "agent_id": http_agent, "search_mode": "fts"},
    ).json()
    assert shape(found) == shape(http_found)
    assert shape(oldest_first[:2]) == shape(
        api.get(f"/v1/agents/{http_agent}/messages", params={"order": "asc", "limit": 2}).json()
    )

    agent = engram_client.agents.messages.reset(agent_id)
    assert agent.id == agent_id
    assert len(agent.model_dump()["message_ids"]) <= 1  # at most the system message
    assert len(engram_client.agents.messages.list(agent_id)) == len(newest_first)


def test_compact_folds_the_window_into_the_summary(
    engram_client: Engram, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(engram_client)
    fake_llm.script(reply.text("One."), reply.text("Two."), reply.text("Sam likes tea."))
    engram_client.agents.messages.create(agent_id, input="first")
    engram_client.agents.messages.create(agent_id, input="second")

    done = engram_client.agents.messages.compact(agent_id)

    assert done.summary
    assert done.num_messages_after < done.num_messages_before


def test_a_failed_model_call_raises_with_what_the_run_recorded(
    engram_client: Engram, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(engram_client)
    fake_llm.script(reply.error(400, "bad request from the fake"))

    with pytest.raises(TurnFailed) as failed:
        engram_client.agents.messages.create(agent_id, input="hi")

    assert failed.value.stop_reason == "llm_api_error"
    assert failed.value.error_type == "llm_error"
    assert failed.value.run_id.startswith("run-")
    assert "bad request from the fake" in str(failed.value)


def test_bad_turns_are_refused_naming_the_field_and_record_nothing(
    engram_client: Engram, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(engram_client)
    messages = engram_client.agents.messages
    cases: list[tuple[Any, str]] = [
        (lambda: messages.create(agent_id, messages=[]), "messages"),
        (lambda: messages.create(agent_id, input="hi", max_steps=0), "max_steps"),
        (
            lambda: messages.create(agent_id, messages=[{"role": "robot", "content": "x"}]),
            "messages.0",
        ),
        (lambda: messages.create(agent_id, input="hi", streaming=True), "streaming"),
        (lambda: list(messages.stream(agent_id, messages=[])), "messages"),
        (lambda: messages.list(agent_id, limit=0), "limit"),
        (lambda: engram_client.messages.search(query="x", start_date="later"), "start_date"),
        (lambda: engram_client.messages.search(query=""), "query"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidInput) as refused:
            call()
        assert refused.value.field.startswith(field), (field, refused.value.field)
    with pytest.raises(NotFound):
        messages.create(UNKNOWN_AGENT, input="hi")
    with pytest.raises(NotFound):
        list(messages.stream(UNKNOWN_AGENT, input="hi"))
    assert messages.list(agent_id) == []
    assert fake_llm.chat_requests == []
    assert messages.cancel(agent_id) == {}


def test_deleting_a_message_takes_what_depends_on_it(
    engram_client: Engram, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(engram_client)
    fake_llm.script(reply.text("Hello."))
    engram_client.agents.messages.create(agent_id, input="hi")
    user = next(
        m for m in engram_client.agents.messages.list(agent_id) if m.message_type == "user_message"
    )

    deleted = engram_client.agents.messages.delete(user.id, agent_id=agent_id)

    assert deleted["deleted_message_ids"] == [user.id]
    assert user.id not in [m.id for m in engram_client.agents.messages.list(agent_id)]


def test_create_async_queues_the_turn_and_answers_with_its_run(
    engram_client: Engram, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(engram_client)
    fake_llm.script(reply.text("Done in the background."))

    run = engram_client.agents.messages.create_async(agent_id, input="work on this")

    assert run.id.startswith("run-") and run.agent_id == agent_id
    assert run.status in ("created", "running", "completed")
    deadline = time.monotonic() + 20
    said_back: list[str] = []
    while not said_back and time.monotonic() < deadline:
        history = engram_client.agents.messages.list(agent_id, order="asc")
        said_back = [
            m.model_dump()["content"] for m in history if m.message_type == "assistant_message"
        ]
        time.sleep(0.1)
    assert said_back == ["Done in the background."]
