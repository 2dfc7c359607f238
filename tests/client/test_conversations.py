"""Conversations through the in-process client: the same operations, under the names
letta-client gives them, and the same errors."""

from __future__ import annotations

import pytest

from engram import Engram
from engram.errors import InvalidInput, NotFound
from tests.client.conftest import MODEL
from tests.fakes import FakeLLM, reply


def said(messages: list[object]) -> list[str]:
    return [
        str(getattr(message, "content", ""))
        for message in messages
        if getattr(message, "message_type", "") in ("user_message", "assistant_message")
    ]


def test_conversations_through_the_in_process_client(
    engram_client: Engram, fake_llm: FakeLLM
) -> None:
    fake_llm.fallback = lambda request: reply.text(f"re: {request.last_user_text}")
    agent = engram_client.agents.create(
        model=MODEL, memory_blocks=[{"label": "human", "value": "Ann"}]
    )
    conv = engram_client.conversations.create(
        agent_id=agent.id, summary="chat", isolated_block_labels=["human"]
    )

    answer = engram_client.conversations.messages.create(conv.id, input="hello")
    engram_client.conversations.messages.create("default", agent_id=agent.id, input="agent")

    assert said(answer.messages) == ["re: hello"]
    assert said(engram_client.conversations.messages.list(conv.id, order="asc")) == [
        "hello",
        "re: hello",
    ]
    listed = engram_client.conversations.list(agent_id=agent.id, summary_search="cha")
    assert [item.id for item in listed] == [conv.id]
    assert len(engram_client.conversations.retrieve(conv.id).isolated_block_ids) == 1
    fork = engram_client.conversations.fork(conv.id)
    assert len(fork.in_context_message_ids) == 2
    assert engram_client.conversations.update(conv.id, summary="renamed").summary == "renamed"
    assert "Ann" in engram_client.conversations.recompile(conv.id, dry_run=True)

    engram_client.conversations.delete(conv.id)
    with pytest.raises(NotFound):
        engram_client.conversations.retrieve(conv.id)
    with pytest.raises(NotFound):
        engram_client.conversations.messages.create(conv.id, input="gone")
    with pytest.raises(InvalidInput):
        engram_client.conversations.create(agent_id=agent.id, isolated_block_labels=["nope"])
    # Every thread of the agent: its own, then the fork's copies (the deleted one is gone).
    assert said(engram_client.agents.messages.list(agent.id, order="asc")) == [
        "agent",
        "re: agent",
        "hello",
        "re: hello",
    ]


def test_steps_search_results_and_listings_carry_the_conversation(
    engram_client: Engram, fake_llm: FakeLLM
) -> None:
    fake_llm.fallback = lambda request: reply.text(f"re: {request.last_user_text}")
    agent = engram_client.agents.create(model=MODEL)
    conv = engram_client.conversations.create(agent_id=agent.id)
    engram_client.conversations.messages.create(conv.id, input="plum in the conversation")
    engram_client.agents.messages.create(agent.id, input="plum in the default thread")

    mine = engram_client.agents.messages.list(agent.id, conversation_id=conv.id, order="asc")
    assert said(mine) == ["plum in the conversation", "re: plum in the conversation"]
    across = engram_client.messages.list(conversation_id=conv.id, order="asc")
    assert said(across) == said(mine)
    found = engram_client.messages.search(query="plum", search_mode="fts")
    assert {hit.conversation_id for hit in found} == {conv.id, None}
    steps = engram_client.steps.list(agent_id=agent.id)
    assert sorted(str(step.conversation_id) for step in steps) == sorted([conv.id, "None"])


def test_compact_takes_compaction_settings_and_refuses_bad_model_settings(
    engram_client: Engram, fake_llm: FakeLLM
) -> None:
    fake_llm.fallback = lambda request: reply.text(f"re: {request.last_user_text}")
    agent = engram_client.agents.create(model=MODEL)
    conv = engram_client.conversations.create(
        agent_id=agent.id, model_settings={"provider_type": "openai", "temperature": 0.2}
    )
    for word in ("one", "two"):
        engram_client.conversations.messages.create(conv.id, input=word)
    assert fake_llm.chat_requests[-1].json["temperature"] == 0.2
    fake_llm.script(reply.text("Two words."))

    done = engram_client.conversations.messages.compact(
        conv.id, compaction_settings={"prompt": "One line only."}
    )

    assert done.summary == "Two words."
    assert "One line only." in fake_llm.chat_requests[-1].system_text
    with pytest.raises(InvalidInput) as caught:
        engram_client.conversations.update(conv.id, model_settings={"temperature": 9})
    assert caught.value.field == "model_settings.temperature"
