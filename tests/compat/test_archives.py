"""Archives through letta-client: shared passage stores, attached to agents and searched."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from letta_client import Letta, NotFoundError
from letta_client.types import AgentState, Archive

from tests.compat.conftest import AgentFactory


@pytest.fixture
def archive(client: Letta) -> Iterator[Archive]:
    made = client.archives.create(name=f"facts-{uuid.uuid4().hex[:8]}", description="team facts")
    yield made
    with contextlib.suppress(NotFoundError):
        client.archives.delete(made.id)


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent()


def test_create_retrieve_update_and_list_an_archive(client: Letta, archive: Archive) -> None:
    fetched = client.archives.retrieve(archive.id)
    updated = client.archives.update(archive.id, description="all team facts")
    by_name = client.archives.list(name=archive.name).items

    assert archive.id.startswith("archive-")
    assert archive.embedding_config is not None
    assert fetched.name == archive.name
    assert fetched.description == "team facts"
    assert updated.description == "all team facts"
    assert [a.id for a in by_name] == [archive.id]


def test_passages_added_one_at_a_time_or_in_a_batch_belong_to_the_archive(
    client: Letta, archive: Archive
) -> None:
    one = client.archives.passages.create(archive.id, text="The office is in Lyon", tags=["office"])
    many = client.archives.passages.create_many(
        archive.id, passages=[{"text": "Standup is at nine"}, {"text": "We deploy on Tuesdays"}]
    )

    assert one.archive_id == archive.id
    assert one.tags == ["office"]
    assert [p.text for p in many] == ["Standup is at nine", "We deploy on Tuesdays"]
    assert {p.archive_id for p in many} == {archive.id}


def test_an_attached_archive_is_searched_with_the_agents_memory_until_detached(
    client: Letta, agent: AgentState, archive: Archive
) -> None:
    client.archives.passages.create(archive.id, text="The office is in Lyon")

    client.agents.archives.attach(archive.id, agent_id=agent.id)
    attached_hits = client.agents.passages.search(agent.id, query="where is the office?")
    attached_to = client.archives.list(agent_id=agent.id).items
    client.agents.archives.detach(archive.id, agent_id=agent.id)
    detached_hits = client.agents.passages.search(agent.id, query="where is the office?")

    assert [r.content for r in attached_hits.results] == ["The office is in Lyon"]
    assert [a.id for a in attached_to] == [archive.id]
    assert detached_hits.results == []


def test_passages_search_ranks_an_archives_passages_by_meaning(
    client: Letta, archive: Archive
) -> None:
    client.archives.passages.create_many(
        archive.id,
        passages=[
            {"text": "We deploy on Tuesdays", "tags": ["process"]},
            {"text": "The office is in Lyon", "tags": ["office"]},
        ],
    )

    hits = client.passages.search(query="which city is the office in?", archive_id=archive.id)
    tagged = client.passages.search(archive_id=archive.id, tags=["process"])

    assert hits[0].passage.text == "The office is in Lyon"
    assert hits[0].score >= hits[-1].score
    assert [hit.passage.text for hit in tagged] == ["We deploy on Tuesdays"]


def test_deleted_passage_and_archive_are_gone(client: Letta, archive: Archive) -> None:
    keep = client.archives.passages.create(archive.id, text="keep me")
    drop = client.archives.passages.create(archive.id, text="drop me")

    client.archives.passages.delete(drop.id, archive_id=archive.id)
    left = client.passages.search(archive_id=archive.id)
    client.archives.delete(archive.id)

    assert [hit.passage.id for hit in left] == [keep.id]
    with pytest.raises(NotFoundError) as caught:
        client.archives.retrieve(archive.id)
    assert archive.id in str(caught.value)
