"""Agents through letta-client: create, retrieve, list, update, delete, as a Letta user would."""

from __future__ import annotations

import uuid

import pytest
from letta_client import Letta, NotFoundError
from letta_client.types import AgentState

from tests.compat.conftest import MODEL, AgentFactory


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent(
        name=unique("compat"),
        description="an agent made by the SDK",
        memory_blocks=[
            {"label": "persona", "value": "I am a test agent."},
            {"label": "human", "value": "Name: Ada", "limit": 500},
        ],
        tags=["compat", "sdk"],
        metadata={"team": "qa"},
    )


def test_create_returns_agent_state_with_blocks_model_and_tags(agent: AgentState) -> None:
    assert agent.id.startswith("agent-")
    assert agent.model == MODEL
    assert agent.llm_config.model == "gpt-4o-mini"
    assert agent.llm_config.context_window > 0
    assert agent.embedding_config is not None and agent.embedding_config.embedding_dim > 0
    assert sorted(agent.tags) == ["compat", "sdk"]
    assert agent.metadata == {"team": "qa"}
    assert agent.description == "an agent made by the SDK"
    values = {block.label: block.value for block in agent.blocks}
    assert values == {"persona": "I am a test agent.", "human": "Name: Ada"}
    assert {block.label for block in agent.memory.blocks} == {"persona", "human"}
    assert next(b for b in agent.blocks if b.label == "human").limit == 500
    assert agent.system
    assert agent.tools, "base memory tools are attached by default"
    assert all(tool.id and tool.name for tool in agent.tools)


def test_retrieve_returns_the_created_agent(client: Letta, agent: AgentState) -> None:
    fetched = client.agents.retrieve(agent.id)

    assert fetched.id == agent.id
    assert fetched.name == agent.name
    assert {b.id for b in fetched.blocks} == {b.id for b in agent.blocks}


def test_list_filters_by_name_and_tags(
    client: Letta, make_agent: AgentFactory, agent: AgentState
) -> None:
    tag = unique("only")
    other = make_agent(name=unique("other"), tags=[tag])

    by_name = client.agents.list(name=agent.name)
    by_tag = client.agents.list(tags=[tag])
    by_both_tags = client.agents.list(tags=["compat", "sdk"], match_all_tags=True)

    assert [a.id for a in by_name] == [agent.id]
    assert [a.id for a in by_tag] == [other.id]
    assert agent.id in {a.id for a in by_both_tags}
    assert other.id not in {a.id for a in by_both_tags}


def test_list_auto_pagination_visits_every_agent_once(
    client: Letta, make_agent: AgentFactory
) -> None:
    tag = unique("page")
    made = [make_agent(name=unique("paged"), tags=[tag]).id for _ in range(5)]

    seen = [a.id for a in client.agents.list(tags=[tag], limit=2)]

    assert sorted(seen) == sorted(made)


def test_update_changes_name_description_tags_and_metadata(
    client: Letta, agent: AgentState
) -> None:
    new_name = unique("renamed")

    updated = client.agents.update(
        agent.id,
        name=new_name,
        description="changed",
        tags=["changed"],
        metadata={"team": "ops"},
    )

    assert updated.name == new_name
    assert updated.description == "changed"
    assert updated.tags == ["changed"]
    assert updated.metadata == {"team": "ops"}
    assert client.agents.retrieve(agent.id).name == new_name


def test_delete_removes_the_agent_and_retrieve_then_raises_not_found(
    client: Letta, make_agent: AgentFactory
) -> None:
    doomed = make_agent(name=unique("doomed"))

    client.agents.delete(doomed.id)

    with pytest.raises(NotFoundError) as caught:
        client.agents.retrieve(doomed.id)
    assert doomed.id in str(caught.value)
    assert caught.value.status_code == 404
