"""Core memory blocks through letta-client: an agent's own blocks by label, and shared blocks
created on their own and attached to agents."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator

import pytest
from letta_client import Letta, NotFoundError
from letta_client.types import AgentState, BlockResponse

from tests.compat.conftest import AgentFactory


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent(
        memory_blocks=[
            {"label": "persona", "value": "I am a test agent."},
            {"label": "human", "value": "Name: Ada", "limit": 500, "description": "the user"},
        ]
    )


@pytest.fixture
def shared_block(client: Letta) -> Iterator[BlockResponse]:
    label = f"team-{uuid.uuid4().hex[:8]}"
    block = client.blocks.create(label=label, value="Ship on Fridays.", description="team notes")
    yield block
    with contextlib.suppress(NotFoundError):
        client.blocks.delete(block.id)


def test_agent_blocks_list_and_retrieve_by_label(client: Letta, agent: AgentState) -> None:
    listed = client.agents.blocks.list(agent.id).items
    human = client.agents.blocks.retrieve("human", agent_id=agent.id)

    assert {block.label for block in listed} == {"persona", "human"}
    assert human.value == "Name: Ada"
    assert human.limit == 500
    assert human.description == "the user"
    assert human.id in {block.id for block in listed}


def test_agent_block_update_by_label_changes_value_and_limit(
    client: Letta, agent: AgentState
) -> None:
    updated = client.agents.blocks.update(
        "human", agent_id=agent.id, value="Name: Ada Lovelace", limit=1000
    )

    assert updated.value == "Name: Ada Lovelace"
    assert updated.limit == 1000
    assert client.agents.blocks.retrieve("human", agent_id=agent.id).value == "Name: Ada Lovelace"


def test_shared_block_create_retrieve_update_and_list(
    client: Letta, shared_block: BlockResponse
) -> None:
    fetched = client.blocks.retrieve(shared_block.id)
    updated = client.blocks.update(shared_block.id, value="Ship on Mondays.")
    by_label = client.blocks.list(label=shared_block.label).items

    assert fetched.value == "Ship on Fridays."
    assert fetched.description == "team notes"
    assert updated.value == "Ship on Mondays."
    assert [block.id for block in by_label] == [shared_block.id]


def test_attach_and_detach_a_shared_block_returns_the_agent(
    client: Letta, agent: AgentState, shared_block: BlockResponse
) -> None:
    attached = client.agents.blocks.attach(shared_block.id, agent_id=agent.id)
    owners = client.blocks.agents.list(shared_block.id).items
    detached = client.agents.blocks.detach(shared_block.id, agent_id=agent.id)

    assert isinstance(attached, AgentState)
    assert shared_block.id in {block.id for block in attached.blocks}
    assert [owner.id for owner in owners] == [agent.id]
    assert shared_block.id not in {block.id for block in detached.blocks}
    assert client.blocks.agents.list(shared_block.id).items == []


def test_a_shared_block_edit_shows_in_every_attached_agent(
    client: Letta, make_agent: AgentFactory, shared_block: BlockResponse
) -> None:
    first = make_agent(block_ids=[shared_block.id])
    second = make_agent(block_ids=[shared_block.id])

    client.blocks.update(shared_block.id, value="Freeze on Fridays.")

    for agent in (first, second):
        seen = client.agents.blocks.retrieve(shared_block.label or "", agent_id=agent.id)
        assert seen.value == "Freeze on Fridays."


def test_deleted_block_is_gone(client: Letta) -> None:
    block = client.blocks.create(label=f"temp-{uuid.uuid4().hex[:8]}", value="soon gone")

    client.blocks.delete(block.id)

    with pytest.raises(NotFoundError) as caught:
        client.blocks.retrieve(block.id)
    assert block.id in str(caught.value)


def test_agent_blocks_auto_pagination_ends(client: Letta, agent: AgentState) -> None:
    labels = [block.label for block in itertools.islice(client.agents.blocks.list(agent.id), 10)]

    assert sorted(labels) == ["human", "persona"]


def test_block_agents_auto_pagination_ends(
    client: Letta, make_agent: AgentFactory, shared_block: BlockResponse
) -> None:
    owner = make_agent(block_ids=[shared_block.id])

    owners = [a.id for a in itertools.islice(client.blocks.agents.list(shared_block.id), 10)]

    assert owners == [owner.id]
