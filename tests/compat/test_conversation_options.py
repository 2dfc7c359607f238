"""Conversation messages beyond the default stream, through letta-client: a JSON answer,
a queued run, a busy conversation refused with ``if_busy=reject`` (another conversation of
the agent is not busy), a conversation's own model, its recompiled prompt, and a fork of a
conversation whose turn is running."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from letta_client import ConflictError, Letta
from letta_client.types import AgentState

from tests.compat.conftest import AgentFactory
from tests.compat.test_conversations import send, texts
from tests.fakes import FakeLLM, reply


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent(memory_blocks=[{"label": "human", "value": "Name: Ann"}])


def post_message(client: Letta, conversation_id: str, **body: Any) -> Any:
    return client.post(f"/v1/conversations/{conversation_id}/messages", body=body, cast_to=object)


def test_streaming_false_answers_a_letta_response(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.script(reply.text("plain answer"))
    conv = client.conversations.create(agent_id=agent.id)

    answer = post_message(client, conv.id, input="hi", streaming=False)

    assert answer["stop_reason"]["stop_reason"] == "end_turn"
    assert [m["content"] for m in answer["messages"]] == ["plain answer"]
    run_id = answer["messages"][0]["run_id"]
    assert client.runs.retrieve(run_id).conversation_id == conv.id


def test_background_queues_the_turn_and_answers_with_its_run(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.script(reply.text("later"))
    conv = client.conversations.create(agent_id=agent.id)

    run = post_message(client, conv.id, input="queue it", streaming=False, background=True)

    assert run["conversation_id"] == conv.id and run["background"] is True
    for _ in range(100):
        if client.runs.retrieve(run["id"]).status == "completed":
            break
        time.sleep(0.1)
    assert texts(client.conversations.messages.list(conv.id, order="asc")) == [
        "queue it",
        "later",
    ]


def test_busy_conversation_is_refused_with_if_busy_reject_but_not_its_sibling(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = lambda request: reply.text("slow", delay=1.5)
    busy = client.conversations.create(agent_id=agent.id)
    free = client.conversations.create(agent_id=agent.id)
    running = threading.Thread(target=send, args=(client, busy.id, "long turn"))
    running.start()
    fake_llm.wait_for_requests(1, timeout=10)

    with pytest.raises(ConflictError) as caught:
        send(client, busy.id, "me too", extra_query={"if_busy": "reject"})
    answered = send(client, free.id, "and me", extra_query={"if_busy": "reject"})
    running.join()

    assert caught.value.status_code == 409 and busy.id in str(caught.value)
    assert "slow" in texts(answered)
    assert texts(client.conversations.messages.list(busy.id, order="asc")) == [
        "long turn",
        "slow",
    ]


def test_a_conversations_model_overrides_the_agents(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = reply.text("ok")
    conv = client.conversations.create(agent_id=agent.id, model="openai/fake-small")
    assert conv.model == "openai/fake-small"

    send(client, conv.id, "which model?")
    assert fake_llm.chat_requests[-1].model == "fake-small"
    client.agents.messages.create(agent.id, input="and you?")
    assert fake_llm.chat_requests[-1].model == "gpt-4o-mini"

    changed = client.conversations.update(conv.id, model="openai/gpt-4o-mini")
    assert changed.model == "openai/gpt-4o-mini"


def test_recompile_shows_the_conversations_own_blocks(client: Letta, agent: AgentState) -> None:
    isolated = client.conversations.create(
        agent_id=agent.id, extra_body={"isolated_block_labels": ["human"]}
    )
    client.blocks.update(isolated.isolated_block_ids[0], value="Name: Zoe")

    own = client.conversations.recompile(isolated.id)
    shared = client.conversations.recompile("default", extra_body={"agent_id": agent.id})

    assert "Name: Zoe" in own and "Name: Ann" not in own
    assert "Name: Ann" in shared


def test_fork_of_a_running_conversation_copies_the_committed_window(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    conv = client.conversations.create(agent_id=agent.id)
    fake_llm.script(reply.text("first answer"), reply.text("slow answer", delay=1.5))
    send(client, conv.id, "first")
    running = threading.Thread(target=send, args=(client, conv.id, "second"))
    running.start()
    fake_llm.wait_for_requests(2, timeout=10)

    fork = client.conversations.fork(conv.id)
    running.join()

    assert texts(client.conversations.messages.list(fork.id, order="asc")) == [
        "first",
        "first answer",
    ]
    assert len(texts(client.conversations.messages.list(conv.id))) == 4


def test_an_approval_pending_in_one_conversation_holds_only_that_conversation(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    guarded = make_agent(
        tool_rules=[{"type": "requires_approval", "tool_name": "archival_memory_insert"}]
    )
    asking = client.conversations.create(agent_id=guarded.id)
    other = client.conversations.create(agent_id=guarded.id)
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "the code is 4711"}),
        reply.text("free to talk"),
        reply.text("saved"),
    )

    events = send(client, asking.id, "save the code")
    request = next(
        e for e in events if getattr(e, "message_type", "") == "approval_request_message"
    )
    assert texts(send(client, other.id, "anyone?")) == ["free to talk"]
    with pytest.raises(ConflictError):
        send(client, asking.id, "ignore it")

    approved = client.conversations.messages.create(
        asking.id,
        messages=[{"type": "approval", "approve": True, "approval_request_id": request.id}],
    )
    assert "saved" in texts(list(approved))
    assert [p.text for p in client.agents.passages.list(guarded.id)] == ["the code is 4711"]
