"""Failures reach letta-client users as the SDK's own exception classes, with a message that
names what went wrong."""

from __future__ import annotations

import uuid

import pytest
from letta_client import ConflictError, Letta, NotFoundError, UnprocessableEntityError
from letta_client.types import AgentState

from tests.compat.conftest import AgentFactory


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent(memory_blocks=[{"label": "human", "value": "Name: Ada"}])


def test_unknown_agent_raises_not_found_naming_the_id(client: Letta) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.agents.retrieve("agent-00000000-0000-0000-0000-000000000000")

    assert caught.value.status_code == 404
    assert "agent 'agent-00000000-0000-0000-0000-000000000000' not found" in str(caught.value)


def test_unknown_block_label_raises_not_found_naming_the_label(
    client: Letta, agent: AgentState
) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.agents.blocks.retrieve("no-such-label", agent_id=agent.id)

    assert "no-such-label" in str(caught.value)


def test_unknown_model_raises_unprocessable_naming_the_model(client: Letta) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.create(model="openai/no-such-model")

    assert caught.value.status_code == 422
    assert "openai/no-such-model" in str(caught.value)


def test_invalid_field_raises_unprocessable_naming_the_field(client: Letta) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        client.blocks.create(label="", value="x")

    assert "label" in str(caught.value)


def test_message_without_content_raises_unprocessable_naming_messages(
    client: Letta, agent: AgentState
) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.messages.create(agent.id)

    assert "messages" in str(caught.value)


def test_bad_date_in_search_raises_unprocessable_naming_the_parameter(
    client: Letta, agent: AgentState
) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.passages.search(agent.id, query="dog", start_datetime="yesterday")

    assert "start_datetime" in str(caught.value)


def test_attaching_a_second_block_with_a_taken_label_raises_conflict(
    client: Letta, agent: AgentState
) -> None:
    twin = client.blocks.create(label="human", value=f"another human {uuid.uuid4().hex[:6]}")

    with pytest.raises(ConflictError) as caught:
        client.agents.blocks.attach(twin.id, agent_id=agent.id)

    assert caught.value.status_code == 409
    assert "already has a block labelled 'human'" in str(caught.value)
    client.blocks.delete(twin.id)
