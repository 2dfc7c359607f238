"""POST /v1/messages/search and GET /v1/messages/{id}: messages across agents, by full text."""

from __future__ import annotations

import uuid

import httpx

from tests.api.conftest import AgentFactory, detail_text, error_fields, search_messages, send_input
from tests.fakes import FakeLLM, reply
from tests.support.recall import wait_until_indexed

MISSING_AGENT = "agent-00000000-0000-4000-8000-000000000000"
MISSING_MESSAGE = "message-00000000-0000-4000-8000-000000000000"


def test_search_finds_user_and_assistant_messages_across_agents(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    word = f"zephyr{uuid.uuid4().hex[:6]}"
    first, second = make_agent(), make_agent()
    fake_llm.script(reply.text(f"Noted the {word} plan."), reply.text("Fine."))
    send_input(api, first["id"], f"Remember the {word} launch")
    send_input(api, second["id"], f"What about {word}?")

    results = search_messages(api, query=word, search_mode="fts")

    matching = {
        (first["id"], "user_message"),
        (first["id"], "assistant_message"),
        (second["id"], "user_message"),
    }
    assert {(r["agent_id"], r["message_type"]) for r in results} == matching
    # Hybrid (the default) ranks the exact matches first once they are embedded; by
    # meaning it may add near neighbours after them (other agents' messages alike).
    wait_until_indexed(api, first["id"])
    wait_until_indexed(api, second["id"])
    hybrid = search_messages(api, query=word)
    assert {(r["agent_id"], r["message_type"]) for r in hybrid[:3]} == matching
    user = next(r for r in results if r["agent_id"] == second["id"])
    assert user["content"] == f"What about {word}?"
    assert set(user) >= {"message_id", "agent_id", "conversation_id", "created_at", "content"}
    only_first = search_messages(api, query=word, agent_id=first["id"])
    assert {r["agent_id"] for r in only_first} == {first["id"]}
    assert len(search_messages(api, query=word, limit=1)) == 1
    assert search_messages(api, query=word, end_date="2000-01-01") == []


def test_search_ignores_tool_messages(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    word = f"quokka{uuid.uuid4().hex[:6]}"
    agent = make_agent(memory_blocks=[{"label": "human", "value": "", "limit": 500}])
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": word}),
        reply.text("Saved."),
    )
    send_input(api, agent["id"], "remember my favourite animal")

    assert all(r["message_type"] != "tool_return_message" for r in search_messages(api, query=word))


def test_bad_search_is_4xx_naming_the_problem(api: httpx.Client) -> None:
    missing = api.post("/v1/messages/search", json={"query": "x", "agent_id": MISSING_AGENT})
    assert missing.status_code == 404 and MISSING_AGENT in detail_text(missing)
    for body, field in (
        ({}, "query"),
        ({"query": ""}, "query"),
        ({"query": "x", "start_date": "later"}, "start_date"),
        ({"query": "x", "limit": 0}, "limit"),
        ({"query": "x", "search_mode": "psychic"}, "search_mode"),
    ):
        response = api.post("/v1/messages/search", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in error_fields(response)
    unknown = {"query": "x", "conversation_id": "conv-1"}
    assert api.post("/v1/messages/search", json=unknown).status_code == 404


def test_retrieve_message_returns_its_letta_messages(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("The answer.", reasoning="Thinking it over."))
    sent = send_input(api, agent["id"], "a question")
    answer = next(m for m in sent["messages"] if m["message_type"] == "assistant_message")

    response = api.get(f"/v1/messages/{answer['id']}")

    assert response.status_code == 200, response.text
    types = [m["message_type"] for m in response.json()]
    assert types == ["reasoning_message", "assistant_message"]
    assert response.json()[1]["content"] == "The answer."
    missing = api.get(f"/v1/messages/{MISSING_MESSAGE}")
    assert missing.status_code == 404 and MISSING_MESSAGE in detail_text(missing)
