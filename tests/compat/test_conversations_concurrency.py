"""Conversations of one agent running at the same time, through letta-client: each window
holds only its own messages in order, turns of two conversations overlap, and two
conversations editing one shared block both keep their edit."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from letta_client import Letta, NotFoundError
from letta_client.types import AgentState

from tests.compat.conftest import AgentFactory
from tests.compat.test_conversations import send, texts
from tests.fakes import FakeLLM, reply
from tests.fakes.replies import FakeRequest

CONVERSATIONS = 20
TURNS = 5


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent(memory_blocks=[{"label": "human", "value": "Facts:"}])


def echo(request: FakeRequest) -> reply.Reply:
    return reply.text(f"echo: {request.last_user_text}")


def test_twenty_conversations_of_one_agent_each_keep_their_own_window(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    ids = [client.conversations.create(agent_id=agent.id).id for _ in range(CONVERSATIONS)]

    def talk(index: int) -> None:
        for turn in range(TURNS):
            send(client, ids[index], f"c{index} t{turn}")

    with ThreadPoolExecutor(CONVERSATIONS) as pool:
        list(pool.map(talk, range(CONVERSATIONS)))

    for index, conversation_id in enumerate(ids):
        expected = []
        for turn in range(TURNS):
            expected += [f"c{index} t{turn}", f"echo: c{index} t{turn}"]
        listed = client.conversations.messages.list(conversation_id, order="asc", limit=100)
        assert texts(listed) == expected
        window = client.conversations.retrieve(conversation_id).in_context_message_ids
        assert len(window) == 2 * TURNS
    runs = client.runs.list(conversation_id=ids[0])
    assert len(list(runs)) == TURNS


def test_turns_of_two_conversations_overlap(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    delay = 1.0
    fake_llm.fallback = lambda request: reply.text("slow answer", delay=delay)
    one = client.conversations.create(agent_id=agent.id)
    two = client.conversations.create(agent_id=agent.id)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda conv: send(client, conv, "hello"), [one.id, two.id]))

    first, second = sorted(request.received_at for request in fake_llm.chat_requests)
    # The second model call began while the first was still being answered.
    assert second - first < delay


def test_a_second_message_to_one_conversation_waits_for_the_first(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    delay = 0.5
    fake_llm.fallback = lambda request: reply.text("slow answer", delay=delay)
    conv = client.conversations.create(agent_id=agent.id)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda text: send(client, conv.id, text), ["one", "two"]))

    first, second = sorted(request.received_at for request in fake_llm.chat_requests)
    assert second - first >= delay * 0.9


def edit_then_answer(request: FakeRequest) -> reply.Reply:
    """A user saying "remember X" gets X appended to the human block (slowly, so two
    conversations' edits meet), then an answer once the tool has run."""
    messages = request.json.get("messages", [])
    if messages and messages[-1].get("role") == "tool":
        return reply.text("remembered")
    fact = request.last_user_text.removeprefix("remember ")
    return reply.tool_call("core_memory_append", {"label": "human", "content": fact}, delay=0.5)


def test_two_conversations_editing_one_block_both_keep_their_edit(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = edit_then_answer
    one = client.conversations.create(agent_id=agent.id)
    two = client.conversations.create(agent_id=agent.id)

    with ThreadPoolExecutor(2) as pool:
        pairs = [(one.id, "remember likes tea"), (two.id, "remember owns a cat")]
        list(pool.map(lambda pair: send(client, *pair), pairs))

    block = client.agents.blocks.retrieve("human", agent_id=agent.id)
    assert "likes tea" in block.value and "owns a cat" in block.value
    history = client.get(f"/v1/blocks/{block.id}/history", cast_to=object)
    assert isinstance(history, list) and len(history) == 2


def test_conversation_id_narrows_runs_messages_search_and_export(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    conv = client.conversations.create(agent_id=agent.id)
    send(client, conv.id, "kiwi in the conversation")
    client.agents.messages.create(agent.id, input="kiwi in the default thread")

    (run,) = client.runs.list(conversation_id=conv.id)
    assert run.conversation_id == conv.id
    mine = client.agents.messages.list(agent.id, conversation_id=conv.id, order="asc")
    assert texts(mine) == ["kiwi in the conversation", "echo: kiwi in the conversation"]
    default = client.agents.messages.list(agent.id, conversation_id="default", order="asc")
    assert texts(default) == ["kiwi in the default thread", "echo: kiwi in the default thread"]
    assert len(texts(client.agents.messages.list(agent.id))) == 4
    across = client.messages.list(conversation_id=conv.id)
    assert {message.id for message in across} == {message.id for message in mine}

    found = client.messages.search(query="kiwi", conversation_id=conv.id, search_mode="fts")
    assert found and {hit.conversation_id for hit in found} == {conv.id}

    # Engram's own field on a step: letta-client keeps it among the model's extras.
    steps = {step.run_id: step.model_extra or {} for step in client.steps.list(agent_id=agent.id)}
    assert steps[run.id]["conversation_id"] == conv.id
    others = [extra for run_id, extra in steps.items() if run_id != run.id]
    assert others and all(extra["conversation_id"] is None for extra in others)
    (step,) = client.runs.steps.list(run.id)
    assert (client.steps.retrieve(step.id).model_extra or {})["conversation_id"] == conv.id

    exported = json.loads(client.agents.export_file(agent.id, conversation_id=conv.id))
    contents = json.dumps(exported["agents"][0]["messages"])
    assert "kiwi in the conversation" in contents and "default thread" not in contents


def test_deleting_the_agent_removes_its_conversations(
    client: Letta, make_agent: AgentFactory
) -> None:
    doomed = make_agent(memory_blocks=[{"label": "human", "value": "x"}])
    conv = client.conversations.create(
        agent_id=doomed.id, extra_body={"isolated_block_labels": ["human"]}
    )
    (copy_id,) = conv.isolated_block_ids

    client.agents.delete(doomed.id)

    assert conv.id not in {item.id for item in client.conversations.list()}
    with pytest.raises(NotFoundError):
        client.conversations.retrieve(conv.id)
    with pytest.raises(NotFoundError):
        client.blocks.retrieve(copy_id)
