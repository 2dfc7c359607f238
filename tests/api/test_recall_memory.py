"""Recall memory: messages embedded in the background, hybrid conversation search, and
deleting a message without orphaning the passages it wrote."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, detail_text, search_messages, send_input
from tests.fakes import FakeLLM, reply
from tests.support.backends import Backend
from tests.support.recall import wait_until_indexed
from tests.support.server import EngramServer

MISSING_AGENT = "agent-00000000-0000-4000-8000-000000000000"


def test_messages_are_embedded_in_the_background(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("Noted."), reply.text("Sure."))
    send_input(api, agent["id"], "I have been living on oolong tea before work.")
    send_input(api, agent["id"], "The quarterly report is due on Friday.")

    status = wait_until_indexed(api, agent["id"])

    # User and assistant messages are embedded; tool results are left to full text.
    assert status == {
        "agent_id": agent["id"],
        "embedding": "local/all-MiniLM-L6-v2",
        "messages": 4,
        "embedded": 4,
        "pending": 0,
        "enabled": True,
    }


def test_search_modes_find_paraphrases_and_exact_codes(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    code = f"QX-{uuid.uuid4().hex[:4].upper()}"
    fake_llm.fallback = reply.text("Okay.")
    for text in (
        "I have been living on oolong tea before work lately.",
        f"My support ticket is {code}, please keep it handy.",
        "The weather was grey and windy all weekend.",
        "My sister Ines is visiting next month.",
    ):
        send_input(api, agent["id"], text)
    wait_until_indexed(api, agent["id"])
    paraphrase = "what does the user drink in the morning"

    def top(query: str, mode: str) -> list[str]:
        hits = search_messages(api, query=query, agent_id=agent["id"], search_mode=mode, limit=3)
        return [hit["content"] for hit in hits if hit["message_type"] == "user_message"]

    # No shared words: full text finds nothing; meaning finds the tea.
    assert top(paraphrase, "fts") == []
    assert "oolong" in top(paraphrase, "vector")[0]
    assert "oolong" in top(paraphrase, "hybrid")[0]
    # An exact code: full text and hybrid put it first.
    assert code in top(code, "fts")[0]
    assert code in top(code, "hybrid")[0]


def test_conversation_search_tool_finds_by_meaning(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("Noted."))
    send_input(api, agent["id"], "I have been living on oolong tea before work lately.")
    wait_until_indexed(api, agent["id"])
    fake_llm.script(
        reply.tool_call("conversation_search", {"query": "morning beverage preference"}),
        reply.text("You drink oolong."),
    )

    send_input(api, agent["id"], "What do I usually drink?")

    tool_result = fake_llm.chat_requests[-1].tool_results[-1]
    found = json.loads(tool_result)
    assert "oolong" in found[0]["content"]
    assert set(found[0]) == {"id", "timestamp", "role", "content"}


def test_recall_index_of_unknown_agent_is_404(api: httpx.Client) -> None:
    response = api.get(f"/v1/agents/{MISSING_AGENT}/recall-index")
    assert response.status_code == 404
    assert MISSING_AGENT in detail_text(response)


def test_unknown_search_mode_is_422(api: httpx.Client, make_agent: AgentFactory) -> None:
    agent = make_agent()
    response = api.get(
        f"/v1/agents/{agent['id']}/archival-memory/search",
        params={"query": "x", "search_mode": "psychic"},
    )
    assert response.status_code == 422
    assert "search_mode" in detail_text(response)


def _insert_through_the_agent(
    api: httpx.Client, fake_llm: FakeLLM, agent_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The agent saves a passage; its tool call message and tool return message."""
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "Ines is allergic to peanuts."}),
        reply.text("Saved it."),
    )
    answer = send_input(api, agent_id, "Please remember: my sister Ines is allergic to peanuts.")
    by_type = {m["message_type"]: m for m in answer["messages"]}
    return by_type["tool_call_message"], by_type["tool_return_message"]


def test_passages_record_the_run_step_and_message_that_wrote_them(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    call, _ = _insert_through_the_agent(api, fake_llm, agent["id"])

    results = api.get(
        f"/v1/agents/{agent['id']}/archival-memory/search", params={"query": "peanuts"}
    ).json()["results"]

    source = results[0]["source"]
    assert source["written_by"] == "agent"
    assert source["agent_id"] == agent["id"]
    assert source["message_id"] == call["id"]
    assert source["step_id"] == call["step_id"]
    assert source["run_id"] == call["run_id"]
    assert source["message_deleted_at"] is None
    listed = api.get(f"/v1/agents/{agent['id']}/archival-memory").json()
    assert listed[0]["source"] == source


def test_deleting_the_message_keeps_its_passage_and_says_so(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    call, tool_return = _insert_through_the_agent(api, fake_llm, agent["id"])
    before = api.get(f"/v1/agents/{agent['id']}/messages").json()

    deleted = api.delete(f"/v1/agents/{agent['id']}/messages/{call['id']}")

    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    # The call's result goes with it, so the window never holds a result without its call.
    assert body["passages_marked_source_deleted"] == 1
    assert set(body["deleted_message_ids"]) == {call["id"], tool_return["id"]}
    after = api.get(f"/v1/agents/{agent['id']}/messages").json()
    assert {m["id"] for m in after} == {m["id"] for m in before} - {call["id"], tool_return["id"]}
    passage = api.get(f"/v1/agents/{agent['id']}/archival-memory").json()[0]
    assert passage["text"] == "Ines is allergic to peanuts."
    assert passage["source"]["message_id"] == call["id"]
    assert passage["source"]["message_deleted_at"] is not None
    # The agent keeps working, and the model sees no orphaned tool result.
    fake_llm.script(reply.text("Still here."))
    send_input(api, agent["id"], "Hello again")
    sent = fake_llm.chat_requests[-1].messages
    assert not any(m.get("role") == "tool" for m in sent)


def test_a_tool_result_cannot_be_deleted_alone(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    call, tool_return = _insert_through_the_agent(api, fake_llm, agent["id"])
    before = api.get(f"/v1/agents/{agent['id']}/messages").json()

    refused = api.delete(f"/v1/agents/{agent['id']}/messages/{tool_return['id']}")

    assert refused.status_code == 409
    assert call["id"] in detail_text(refused)
    assert api.get(f"/v1/agents/{agent['id']}/messages").json() == before
    passage = api.get(f"/v1/agents/{agent['id']}/archival-memory").json()[0]
    assert passage["source"]["message_deleted_at"] is None


def test_deleting_unknown_messages_is_404(api: httpx.Client, make_agent: AgentFactory) -> None:
    agent = make_agent()
    missing = "message-00000000-0000-4000-8000-000000000000"
    response = api.delete(f"/v1/agents/{agent['id']}/messages/{missing}")
    assert response.status_code == 404
    assert missing in detail_text(response)
    response = api.delete(f"/v1/agents/{MISSING_AGENT}/messages/{missing}")
    assert response.status_code == 404


@pytest.mark.slow
def test_messages_left_unembedded_are_embedded_after_a_restart(
    fake_llm: FakeLLM, tmp_path: Any, backend: Backend
) -> None:
    database = backend.database_url()
    off = EngramServer(
        tmp_path / "data",
        fake_llm.base_url,
        {"ENGRAM_RECALL_EMBEDDINGS": "false"},
        database_url=database,
    )
    off.start()
    try:
        with off.client() as client:
            agent = client.post("/v1/agents/", json={"model": "openai/gpt-4o-mini"}).json()
            fake_llm.script(reply.text("Noted."))
            send_input(client, agent["id"], "I keep my bicycle in the shed.")
            time.sleep(0.5)
            status = client.get(f"/v1/agents/{agent['id']}/recall-index").json()
            assert (status["pending"], status["enabled"]) == (2, False)
    finally:
        off.stop()
    on = EngramServer(tmp_path / "data", fake_llm.base_url, database_url=database)
    on.start()
    try:
        with on.client() as client:
            assert wait_until_indexed(client, agent["id"])["embedded"] == 2
    finally:
        on.stop()
