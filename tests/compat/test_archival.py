"""Archival memory through letta-client: insert, list, search by meaning and tags, delete."""

from __future__ import annotations

import pytest
from letta_client import Letta
from letta_client.types import AgentState

from tests.compat.conftest import AgentFactory


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent()


def test_create_returns_the_new_passage_in_a_list(client: Letta, agent: AgentState) -> None:
    created = client.agents.passages.create(agent.id, text="my dog is Rex", tags=["pets"])

    assert len(created) == 1
    passage = created[0]
    assert passage.id.startswith("passage-")
    assert passage.text == "my dog is Rex"
    assert passage.tags == ["pets"]
    assert passage.created_at is not None
    assert passage.embedding_config is not None


def test_list_returns_passages_oldest_first_and_filters_by_text(
    client: Letta, agent: AgentState
) -> None:
    for text in ("my dog is Rex", "my cat is Tom", "I live in Lyon"):
        client.agents.passages.create(agent.id, text=text)

    listed = client.agents.passages.list(agent.id)
    matching = client.agents.passages.list(agent.id, search="cat")
    newest = client.agents.passages.list(agent.id, ascending=False, limit=1)

    assert [p.text for p in listed] == ["my dog is Rex", "my cat is Tom", "I live in Lyon"]
    assert [p.text for p in matching] == ["my cat is Tom"]
    assert [p.text for p in newest] == ["I live in Lyon"]


def test_search_finds_by_meaning_and_filters_by_tag(client: Letta, agent: AgentState) -> None:
    client.agents.passages.create(agent.id, text="my dog is Rex", tags=["pets"])
    client.agents.passages.create(agent.id, text="my cat is Tom", tags=["pets", "cats"])
    client.agents.passages.create(agent.id, text="I work as a carpenter", tags=["work"])

    found = client.agents.passages.search(agent.id, query="what is the name of my dog?", top_k=1)
    cats = client.agents.passages.search(agent.id, query="pet", tags=["cats"])
    both = client.agents.passages.search(
        agent.id, query="pet", tags=["pets", "cats"], tag_match_mode="all"
    )

    assert found.count == 1
    assert found.results[0].content == "my dog is Rex"
    assert found.results[0].timestamp
    assert [r.content for r in cats.results] == ["my cat is Tom"]
    assert [r.content for r in both.results] == ["my cat is Tom"]
    assert both.results[0].tags is not None and sorted(both.results[0].tags) == ["cats", "pets"]


def test_deleted_passage_no_longer_lists_or_matches(client: Letta, agent: AgentState) -> None:
    keep = client.agents.passages.create(agent.id, text="my dog is Rex")[0]
    drop = client.agents.passages.create(agent.id, text="my cat is Tom")[0]

    client.agents.passages.delete(drop.id, agent_id=agent.id)

    assert [p.id for p in client.agents.passages.list(agent.id)] == [keep.id]
    hits = client.agents.passages.search(agent.id, query="cat")
    assert drop.id not in {r.id for r in hits.results}
