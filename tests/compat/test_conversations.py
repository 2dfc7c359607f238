"""Conversations through letta-client: many threads of one agent, each with its own
window, sharing the agent's memory blocks (docs/conversations.md)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from letta_client import Letta, NotFoundError, UnprocessableEntityError
from letta_client.types import AgentState
from letta_client.types.agents import AssistantMessage, UserMessage
from letta_client.types.agents.letta_streaming_response import LettaPing, LettaStopReason

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply
from tests.fakes.replies import FakeRequest


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent(
        memory_blocks=[
            {"label": "human", "value": "The user's name is Ann."},
            {"label": "persona", "value": "A helpful assistant."},
        ]
    )


def echo(request: FakeRequest) -> reply.Reply:
    """Answer each turn with the user's words, so a window shows whose turn it was."""
    return reply.text(f"echo: {request.last_user_text}")


def send(client: Letta, conversation_id: str, text: str, **options: object) -> list[object]:
    """One turn in the conversation, streamed as letta-client streams it by default."""
    stream = client.conversations.messages.create(conversation_id, input=text, **options)  # type: ignore[arg-type]
    return [event for event in stream if not isinstance(event, LettaPing)]


def texts(messages: Iterable[object]) -> list[str]:
    shown = []
    for message in messages:
        if isinstance(message, (UserMessage, AssistantMessage)):
            content = message.content
            shown.append(content if isinstance(content, str) else str(content))
    return shown


def test_create_retrieve_list_update_delete(client: Letta, agent: AgentState) -> None:
    first = client.conversations.create(agent_id=agent.id, summary="billing question")
    second = client.conversations.create(agent_id=agent.id, summary="shipping")

    assert first.id.startswith("conv-") and first.agent_id == agent.id
    assert first.summary == "billing question" and first.in_context_message_ids == []
    assert client.conversations.retrieve(first.id).summary == "billing question"
    listed = client.conversations.list(agent_id=agent.id)
    assert {item.id for item in listed} == {first.id, second.id}
    found = client.conversations.list(agent_id=agent.id, summary_search="BILLING")
    assert [item.id for item in found] == [first.id]

    changed = client.conversations.update(first.id, summary="refund")
    assert changed.summary == "refund"

    client.conversations.delete(first.id)
    with pytest.raises(NotFoundError):
        client.conversations.retrieve(first.id)
    assert [item.id for item in client.conversations.list(agent_id=agent.id)] == [second.id]


def test_each_conversation_has_its_own_window(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    one = client.conversations.create(agent_id=agent.id)
    two = client.conversations.create(agent_id=agent.id)

    events = send(client, one.id, "apples")
    assert isinstance(events[-2], LettaStopReason) or any(
        isinstance(event, LettaStopReason) for event in events
    )
    send(client, two.id, "pears")
    prompt = fake_llm.chat_requests[-1]
    assert "pears" in prompt.user_texts and "apples" not in " ".join(prompt.user_texts)

    listed = client.conversations.messages.list(one.id, order="asc")
    assert texts(listed) == ["apples", "echo: apples"]
    assert texts(client.conversations.messages.list(two.id, order="asc")) == [
        "pears",
        "echo: pears",
    ]
    retrieved = client.conversations.retrieve(one.id)
    assert len(retrieved.in_context_message_ids) == 2 and retrieved.last_message_at is not None
    # The agent's own thread ("default") holds neither.
    assert texts(client.conversations.messages.list("default", agent_id=agent.id)) == []


def test_default_conversation_is_the_agents_own_thread(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    client.agents.messages.create(agent.id, input="via the agent")
    send(client, "default", "via default", agent_id=agent.id)

    shown = texts(client.conversations.messages.list("default", agent_id=agent.id, order="asc"))
    assert shown == ["via the agent", "echo: via the agent", "via default", "echo: via default"]
    assert texts(client.agents.messages.list(agent.id, order="asc")) == shown
    assert "via the agent" in " ".join(fake_llm.chat_requests[-1].user_texts)


def test_a_shared_block_edit_reaches_every_conversation_but_an_isolated_copy(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    editor = client.conversations.create(agent_id=agent.id)
    reader = client.conversations.create(agent_id=agent.id)
    isolated = client.conversations.create(
        agent_id=agent.id, extra_body={"isolated_block_labels": ["human"]}
    )
    assert len(isolated.isolated_block_ids) == 1

    fake_llm.script(
        reply.tool_call(
            "core_memory_replace",
            {"label": "human", "old_content": "Ann", "new_content": "Bea"},
        ),
        reply.text("noted"),
        reply.text("hello Bea"),
        reply.text("hello Ann"),
    )
    send(client, editor.id, "my name is Bea now")
    send(client, reader.id, "who am I?")
    assert "The user's name is Bea." in fake_llm.chat_requests[-1].system_text
    send(client, isolated.id, "who am I?")
    assert "The user's name is Ann." in fake_llm.chat_requests[-1].system_text

    # The isolated copy is the conversation's to edit; the agent's block keeps its value.
    fake_llm.script(
        reply.tool_call(
            "core_memory_replace",
            {"label": "human", "old_content": "Ann", "new_content": "Cy"},
        ),
        reply.text("noted"),
    )
    send(client, isolated.id, "call me Cy here")
    shared = client.agents.blocks.retrieve("human", agent_id=agent.id)
    assert shared.value == "The user's name is Bea."
    copy = client.blocks.retrieve(isolated.isolated_block_ids[0])
    assert copy.value == "The user's name is Cy."


def test_fork_copies_the_window_into_a_new_conversation(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    source = client.conversations.create(agent_id=agent.id, summary="original")
    send(client, source.id, "first")

    fork = client.conversations.fork(source.id)
    send(client, fork.id, "only in the fork")

    assert fork.id != source.id and fork.agent_id == agent.id
    assert len(fork.in_context_message_ids) == 2
    assert texts(client.conversations.messages.list(fork.id, order="asc")) == [
        "first",
        "echo: first",
        "only in the fork",
        "echo: only in the fork",
    ]
    assert texts(client.conversations.messages.list(source.id, order="asc")) == [
        "first",
        "echo: first",
    ]


def test_compact_folds_the_conversation_window_only(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    conv = client.conversations.create(agent_id=agent.id)
    for word in ("one", "two", "three"):
        send(client, conv.id, word)
    client.agents.messages.create(agent.id, input="default thread")
    before = len(client.conversations.retrieve(conv.id).in_context_message_ids)

    fake_llm.script(reply.text("They counted to three."))
    done = client.conversations.messages.compact(conv.id)

    after = client.conversations.retrieve(conv.id).in_context_message_ids
    assert done.num_messages_before == before == 6
    assert done.num_messages_after == len(after) < before
    assert done.summary == "They counted to three."
    agent_context = client.agents.messages.list(agent.id)
    assert "default thread" in texts(agent_context)


def test_stream_reattaches_to_the_conversations_last_run(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    conv = client.conversations.create(agent_id=agent.id)
    send(client, conv.id, "hi there")

    with client.conversations.messages.stream(conv.id) as stream:
        events = [event for event in stream if not isinstance(event, LettaPing)]

    assert texts(events) == ["echo: hi there"]
    assert any(isinstance(event, LettaStopReason) for event in events)


def test_cancel_stops_a_background_run_of_the_conversation(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    conv = client.conversations.create(agent_id=agent.id)
    fake_llm.script(
        reply.tool_call("conversation_search", {"query": "x"}, delay=1.0), reply.text("late")
    )
    run = client.post(
        f"/v1/conversations/{conv.id}/messages",
        body={"input": "slow", "streaming": False, "background": True},
        cast_to=dict,
    )
    fake_llm.wait_for_requests(1, timeout=10)
    cancelled = client.conversations.cancel(conv.id)
    assert cancelled == {run["id"]: "cancelled"}
    deadline_status = _wait_status(client, run["id"])
    assert deadline_status == "cancelled"
    assert client.runs.retrieve(run["id"]).conversation_id == conv.id


def _wait_status(client: Letta, run_id: str) -> str:
    import time

    for _ in range(100):
        run = client.runs.retrieve(run_id)
        if run.completed_at is not None:
            return str(run.status)
        time.sleep(0.1)
    return "still running"


def test_bad_input(client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory) -> None:
    mine = make_agent()
    other = make_agent()
    conv = client.conversations.create(agent_id=mine.id)

    with pytest.raises(NotFoundError):
        client.conversations.retrieve("conv-00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFoundError):
        client.conversations.messages.list(conv.id, agent_id=other.id)
    with pytest.raises(NotFoundError):
        client.conversations.create(agent_id="agent-00000000-0000-0000-0000-000000000000")
    with pytest.raises(UnprocessableEntityError) as missing:
        client.conversations.create(
            agent_id=mine.id, extra_body={"isolated_block_labels": ["nope"]}
        )
    assert "isolated_block_labels" in str(missing.value)
    with pytest.raises(UnprocessableEntityError):
        client.conversations.messages.list("default")
    assert [item.id for item in client.conversations.list(agent_id=mine.id)] == [conv.id]

    client.conversations.delete(conv.id)
    with pytest.raises(NotFoundError):
        send(client, conv.id, "anyone there?")
    assert fake_llm.chat_requests == []
    assert client.runs.list(agent_id=mine.id) == [] or not list(client.runs.list(agent_id=mine.id))


def test_conversation_search_sees_every_conversation_unless_narrowed(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    other = client.conversations.create(agent_id=agent.id)
    send(client, other.id, "my locker code is 4711")
    mine = client.conversations.create(agent_id=agent.id)

    fake_llm.fallback = reply.text("ok")
    fake_llm.script(
        reply.tool_call("conversation_search", {"query": "locker"}),
        reply.tool_call(
            "conversation_search",
            {"query": "locker", "roles": ["user", "assistant"], "this_conversation_only": True},
        ),
        reply.text("done"),
    )
    send(client, mine.id, "what was the code?")

    results = [
        message["content"]
        for request in fake_llm.chat_requests[-2:]
        for message in request.json["messages"][-1:]
        if message["role"] == "tool"
    ]
    assert "4711" in results[0]
    assert "4711" not in results[1] and "No messages matched." in results[1]


def test_list_pages_by_creation_or_by_the_latest_message(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    first, second, third = (client.conversations.create(agent_id=agent.id) for _ in range(3))
    send(client, first.id, "bump")

    def ids(**query: object) -> list[str]:
        return [item.id for item in client.conversations.list(agent_id=agent.id, **query)]  # type: ignore[arg-type]

    assert ids(order="asc") == [first.id, second.id, third.id]
    assert ids(order="desc", limit=2) == [third.id, second.id]
    assert ids(order="desc", after=second.id) == [first.id]
    assert ids(order_by="last_message_at") == [first.id, third.id, second.id]
    assert ids(order_by="last_message_at", after=first.id, limit=1) == [third.id]
    with pytest.raises(NotFoundError):
        ids(after="conv-00000000-0000-0000-0000-000000000000")


def test_a_conversations_hits_are_found_however_many_other_threads_match(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    conv = client.conversations.create(agent_id=agent.id)
    send(client, conv.id, "the kiwi is in the fridge")
    # Newer matches elsewhere: twelve messages of the default thread outrank it.
    for n in range(6):
        client.agents.messages.create(agent.id, input=f"kiwi number {n}")

    found = client.messages.search(
        query="kiwi", conversation_id=conv.id, search_mode="fts", limit=1
    )
    assert [hit.conversation_id for hit in found] == [conv.id]

    fake_llm.fallback = reply.text("ok")
    fake_llm.script(
        reply.tool_call(
            "conversation_search",
            {"query": "kiwi", "limit": 1, "this_conversation_only": True},
        ),
        reply.text("done"),
    )
    send(client, conv.id, "where is it?")
    tool_result = fake_llm.chat_requests[-1].json["messages"][-1]
    assert tool_result["role"] == "tool" and "fridge" in tool_result["content"]


def test_history_group_id_matches_nothing_and_include_err_adds_nothing(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    thread = client.conversations.create(agent_id=agent.id)
    fake_llm.script(reply.text("Noted."))
    send(client, thread.id, "Rex is my dog")

    everything = client.conversations.messages.list(thread.id)
    with_errors = client.conversations.messages.list(thread.id, include_err=True)
    of_a_group = client.conversations.messages.list(thread.id, group_id="group-anything")

    assert texts(everything)
    assert [m.id for m in with_errors] == [m.id for m in everything]
    assert list(of_a_group) == []
