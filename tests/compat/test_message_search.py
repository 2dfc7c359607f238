"""Searching messages across agents, and fetching one message, through letta-client."""

from __future__ import annotations

import uuid

import pytest
from letta_client import Letta, NotFoundError
from letta_client.types.agents import AssistantMessage

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply
from tests.support.recall import wait_until_indexed
from tests.support.server import EngramServer


def test_search_finds_user_and_assistant_messages_of_one_agent(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory, engram_server: EngramServer
) -> None:
    word = f"zebra{uuid.uuid4().hex[:6]}"
    agent = make_agent()
    other = make_agent()
    fake_llm.script(reply.text(f"A {word} has stripes."), reply.text(f"Yes, {word}."))
    client.agents.messages.create(agent.id, input=f"tell me about the {word}")
    client.agents.messages.create(other.id, input=f"do you know the {word}?")

    with engram_server.client() as http:
        for agent_id in (agent.id, other.id):
            wait_until_indexed(http, agent_id)

    everywhere = client.messages.search(query=word, search_mode="fts")
    ranked = client.messages.search(query=word)
    one_agent = client.messages.search(query=word, agent_id=agent.id)

    assert {hit.agent_id for hit in everywhere} == {agent.id, other.id}
    # Hybrid, the default, puts the exact matches first once they are embedded.
    exact = {hit.message_id for hit in everywhere}
    assert {hit.message_id for hit in ranked[: len(exact)]} == exact
    assert {hit.agent_id for hit in one_agent} == {agent.id}
    assert {hit.message_type for hit in one_agent} == {"user_message", "assistant_message"}
    assert all(word in str(hit.content) for hit in one_agent)
    assert all(hit.message_id.startswith("message-") for hit in one_agent)


def test_retrieve_returns_the_letta_messages_of_one_stored_message(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("Hello!"))
    answer = client.agents.messages.create(agent.id, input="hi").messages[-1]

    fetched = client.messages.retrieve(answer.id)

    assert [type(m) for m in fetched] == [AssistantMessage]
    assert fetched[0].id == answer.id


def test_retrieve_unknown_message_raises_not_found_naming_it(client: Letta) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.messages.retrieve("message-00000000-0000-0000-0000-000000000000")

    assert "message-00000000-0000-0000-0000-000000000000" in str(caught.value)
