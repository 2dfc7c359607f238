"""Archives, their passages and an agent's archival memory through ``engram.Engram``: the
same operations as the REST API, answering with the same shapes, refusing the same bad
input with an error naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from engram import Engram
from engram.errors import InvalidInput, NotFound
from tests.client.shapes import MODEL, new_agent, shape


def rest_agent(api: httpx.Client) -> str:
    response = api.post("/v1/agents/", json={"model": MODEL})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def rest(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


# --------------------------------------------------------------------------- archives


def test_archive_lifecycle_answers_as_the_api_does(
    engram_client: Engram, api: httpx.Client
) -> None:
    made = engram_client.archives.create(name="notes", description="team notes")
    over_http = rest(api.post("/v1/archives/", json={"name": "notes", "description": "x"}))

    assert made.id.startswith("archive-") and made.name == "notes"
    assert shape(made) == shape(over_http)
    assert engram_client.archives.retrieve(made.id) == made
    renamed = engram_client.archives.update(made.id, name="team notes", metadata={"k": 1})
    assert (renamed.name, renamed.metadata) == ("team notes", {"k": 1})
    assert [a.id for a in engram_client.archives.list(name="team notes")] == [made.id]
    assert shape(engram_client.archives.list()) == shape(rest(api.get("/v1/archives/")))

    engram_client.archives.delete(made.id)
    with pytest.raises(NotFound, match=made.id):
        engram_client.archives.retrieve(made.id)


def test_archive_passages_are_written_all_or_none(engram_client: Engram, api: httpx.Client) -> None:
    archive = engram_client.archives.create(name="facts")
    one = engram_client.archives.passages.create(
        archive.id, text="Paris is in France", tags=["geo"]
    )
    many = engram_client.archives.passages.create_many(
        archive.id, passages=[{"text": "Rome is in Italy"}, {"text": "Bern is in Switzerland"}]
    )
    http_archive = rest(api.post("/v1/archives/", json={"name": "facts"}))
    over_http = rest(
        api.post(f"/v1/archives/{http_archive['id']}/passages", json={"text": "x", "tags": ["a"]})
    )

    assert one.archive_id == archive.id and one.tags == ["geo"]
    assert [p.text for p in many] == ["Rome is in Italy", "Bern is in Switzerland"]
    assert shape(one) == shape(over_http)

    with pytest.raises(InvalidInput) as bad:
        engram_client.archives.passages.create_many(
            archive.id, passages=[{"text": "fine"}, {"text": "t", "created_at": "yesterday"}]
        )
    assert bad.value.field == "passages.1.created_at"
    found = engram_client.passages.search(archive_id=archive.id, limit=10)
    assert len(found) == 3  # the refused batch wrote nothing

    engram_client.archives.passages.delete(one.id, archive_id=archive.id)
    assert len(engram_client.passages.search(archive_id=archive.id)) == 2


def test_archive_create_refuses_bad_input_naming_the_field(engram_client: Engram) -> None:
    with pytest.raises(InvalidInput) as empty:
        engram_client.archives.create(name="")
    assert empty.value.field == "name"
    with pytest.raises(InvalidInput) as limit:
        engram_client.archives.list(limit=0)
    assert limit.value.field == "limit"
    with pytest.raises(NotFound):
        engram_client.archives.passages.create("archive-nope", text="x")


# --------------------------------------------------------------------------- an agent's


def test_agent_passages_insert_list_search_delete(engram_client: Engram, api: httpx.Client) -> None:
    agent_id = new_agent(engram_client)
    created = engram_client.agents.passages.create(agent_id, text="my dog is Rex", tags=["pets"])
    engram_client.agents.passages.create(agent_id, text="I work as a carpenter", tags=["work"])

    assert len(created) == 1 and created[0].text == "my dog is Rex"
    listed = engram_client.agents.passages.list(agent_id)
    assert [p.text for p in listed] == ["my dog is Rex", "I work as a carpenter"]
    found = engram_client.agents.passages.search(agent_id, query="what is my dog called?", top_k=1)
    assert found.count == 1 and found.results[0].content == "my dog is Rex"
    by_keyword = engram_client.agents.passages.search(
        agent_id, query="carpenter", search_mode="fts"
    )
    assert [r.content for r in by_keyword.results] == ["I work as a carpenter"]

    http_agent = rest_agent(api)
    path = f"/v1/agents/{http_agent}/archival-memory"
    http_created = rest(api.post(path, json={"text": "my dog is Rex", "tags": ["pets"]}))
    http_search = rest(api.get(f"{path}/search", params={"query": "dog", "top_k": 1}))
    assert shape(created) == shape(http_created)
    assert shape(listed) == shape(rest(api.get(path)))
    assert shape(found) == shape(http_search)

    engram_client.agents.passages.delete(created[0].id, agent_id=agent_id)
    assert [p.text for p in engram_client.agents.passages.list(agent_id)] == [
        "I work as a carpenter"
    ]


def test_passage_times_naive_means_utc_and_datetimes_are_accepted(engram_client: Engram) -> None:
    agent_id = new_agent(engram_client)
    naive = engram_client.agents.passages.create(
        agent_id, text="a", created_at="2024-06-01T10:00:00"
    )
    offset = engram_client.agents.passages.create(
        agent_id, text="b", created_at=datetime(2024, 6, 1, 12, tzinfo=UTC)
    )

    assert datetime.fromisoformat(naive[0].created_at or "") == datetime(2024, 6, 1, 10, tzinfo=UTC)
    assert datetime.fromisoformat(offset[0].created_at or "") == datetime(
        2024, 6, 1, 12, tzinfo=UTC
    )
    in_june = engram_client.agents.passages.search(
        agent_id, query="a", start_datetime="2024-06-01", end_datetime="2024-06-01T11:00:00"
    )
    assert [r.content for r in in_june.results] == ["a"]


def test_agent_passages_refuse_bad_input_naming_the_field(engram_client: Engram) -> None:
    agent_id = new_agent(engram_client)
    cases: list[tuple[Any, str]] = [
        (lambda: engram_client.agents.passages.create(agent_id, text=""), "text"),
        (
            lambda: engram_client.agents.passages.create(agent_id, text="t", created_at="soon"),
            "created_at",
        ),
        (lambda: engram_client.agents.passages.search(agent_id, query=""), "query"),
        (lambda: engram_client.agents.passages.search(agent_id, query="x", top_k=0), "top_k"),
        (
            lambda: engram_client.agents.passages.search(
                agent_id, query="x", start_datetime="last tuesday"
            ),
            "start_datetime",
        ),
        (lambda: engram_client.passages.search(query="x", limit=0), "limit"),
        (
            lambda: engram_client.passages.search(agent_id=agent_id, start_date="later"),
            "start_date",
        ),
    ]
    for call, field in cases:
        with pytest.raises(InvalidInput) as refused:
            call()
        assert refused.value.field == field
    assert engram_client.agents.passages.list(agent_id) == []
    with pytest.raises(NotFound):
        engram_client.agents.passages.create("agent-00000000-0000-4000-8000-000000000000", text="x")


def test_attached_archive_is_searched_with_the_agents_memory(engram_client: Engram) -> None:
    agent_id = new_agent(engram_client)
    archive = engram_client.archives.create(name="shared")
    engram_client.archives.passages.create(archive.id, text="the office wifi password is tulip")

    attached = engram_client.agents.archives.attach(archive.id, agent_id=agent_id)
    assert attached.id == agent_id
    found = engram_client.passages.search(agent_id=agent_id, query="wifi password")
    assert [hit.passage.text for hit in found] == ["the office wifi password is tulip"]
    assert found[0].passage.archive_id == archive.id
    assert [a.id for a in engram_client.archives.list(agent_id=agent_id)] == [archive.id]

    engram_client.agents.archives.detach(archive.id, agent_id=agent_id)
    assert engram_client.passages.search(agent_id=agent_id, query="wifi password") == []
    with pytest.raises(InvalidInput) as refused:
        engram_client.passages.search(agent_id=agent_id, archive_id=archive.id, query="wifi")
    assert refused.value.field == "archive_id"
