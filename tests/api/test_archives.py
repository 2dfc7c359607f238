"""/v1/archives over HTTP: shared passage stores that agents attach and search."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, detail_text, error_fields
from tests.fakes import FakeLLM, reply

ARCHIVE_FIELDS = {
    "id", "name", "description", "organization_id", "vector_db_provider", "embedding_config",
    "metadata", "created_at", "updated_at", "created_by_id", "last_updated_by_id",
}  # fmt: skip
MISSING_ARCHIVE = "archive-00000000-0000-4000-8000-000000000000"
MISSING_AGENT = "agent-00000000-0000-4000-8000-000000000000"
MISSING_PASSAGE = "passage-00000000-0000-4000-8000-000000000000"
PROVIDER_EMBEDDING = "openai/text-embedding-3-small"


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_archive(api: httpx.Client) -> Iterator[Any]:
    """Create archives; the ones still alive are deleted afterwards."""
    created: list[str] = []

    def factory(**fields: Any) -> dict[str, Any]:
        response = api.post("/v1/archives/", json={"name": unique("archive"), **fields})
        assert response.status_code == 200, response.text
        created.append(response.json()["id"])
        return response.json()

    yield factory
    for archive_id in created:
        api.delete(f"/v1/archives/{archive_id}")


def add(api: httpx.Client, archive_id: str, text: str, **fields: Any) -> dict[str, Any]:
    response = api.post(f"/v1/archives/{archive_id}/passages", json={"text": text, **fields})
    assert response.status_code == 200, response.text
    return response.json()


def attach(api: httpx.Client, agent_id: str, archive_id: str) -> httpx.Response:
    return api.patch(f"/v1/agents/{agent_id}/archives/attach/{archive_id}")


def search(api: httpx.Client, agent_id: str, query: str) -> list[str]:
    response = api.get(f"/v1/agents/{agent_id}/archival-memory/search", params={"query": query})
    assert response.status_code == 200, response.text
    return [result["content"] for result in response.json()["results"]]


def listed_texts(api: httpx.Client, agent_id: str) -> list[str]:
    response = api.get(f"/v1/agents/{agent_id}/archival-memory", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return [passage["text"] for passage in response.json()]


def passage_search(api: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    response = api.post("/v1/passages/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()


# --------------------------------------------------------------------------- archives


def test_created_archive_has_the_contract_shape_and_local_embedding(
    api: httpx.Client, make_archive: Any
) -> None:
    archive = make_archive(description="Company handbook")

    assert set(archive) >= ARCHIVE_FIELDS, ARCHIVE_FIELDS - set(archive)
    assert archive["id"].startswith("archive-")
    assert archive["description"] == "Company handbook"
    assert archive["vector_db_provider"] == "native"
    assert isinstance(archive["organization_id"], str)
    assert archive["embedding_config"]["handle"] == "local/all-MiniLM-L6-v2"
    assert archive["embedding_config"]["embedding_dim"] == 384
    assert api.get(f"/v1/archives/{archive['id']}").json() == archive


def test_archive_embedding_can_be_a_provider_model(make_archive: Any) -> None:
    by_handle = make_archive(embedding=PROVIDER_EMBEDDING)
    by_config = make_archive(
        embedding_config={
            "embedding_endpoint_type": "openai",
            "embedding_model": "text-embedding-3-small",
            "embedding_dim": 1536,
        }
    )

    for archive in (by_handle, by_config):
        assert archive["embedding_config"]["handle"] == PROVIDER_EMBEDDING
        assert archive["embedding_config"]["embedding_dim"] == 1536


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "x", "embedding": "openai/no-such-model"}, "embedding"),
        (
            {
                "name": "x",
                "embedding_config": {
                    "embedding_endpoint_type": "openai",
                    "embedding_model": "text-embedding-3-small",
                    "embedding_dim": 7,
                },
            },
            "embedding_config",
        ),
    ],
)
def test_bad_archive_is_422_naming_the_field_and_creates_nothing(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    before = len(api.get("/v1/archives/", params={"limit": 1000}).json())

    response = api.post("/v1/archives/", json=body)

    assert response.status_code == 422, response.text
    assert field in error_fields(response)
    assert len(api.get("/v1/archives/", params={"limit": 1000}).json()) == before


def test_list_filters_by_name_and_agent_and_pages(
    api: httpx.Client, make_archive: Any, make_agent: AgentFactory
) -> None:
    first, second, third = make_archive(), make_archive(), make_archive()
    agent = make_agent()
    attach(api, agent["id"], first["id"]).raise_for_status()
    attach(api, agent["id"], third["id"]).raise_for_status()

    by_name = api.get("/v1/archives/", params={"name": second["name"]}).json()
    assert [a["id"] for a in by_name] == [second["id"]]
    by_agent = api.get("/v1/archives/", params={"agent_id": agent["id"], "order": "asc"}).json()
    assert [a["id"] for a in by_agent] == [first["id"], third["id"]]
    newest = api.get("/v1/archives/", params={"agent_id": agent["id"], "limit": 1}).json()
    assert [a["id"] for a in newest] == [third["id"]]
    after = api.get("/v1/archives/", params={"agent_id": agent["id"], "after": third["id"]}).json()
    assert [a["id"] for a in after] == [first["id"]]
    missing = api.get("/v1/archives/", params={"agent_id": MISSING_AGENT})
    assert missing.status_code == 404


def test_modify_changes_name_and_description(api: httpx.Client, make_archive: Any) -> None:
    archive = make_archive()
    new_name = unique("renamed")

    response = api.patch(
        f"/v1/archives/{archive['id']}", json={"name": new_name, "description": "Now described"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["name"] == new_name
    assert response.json()["description"] == "Now described"
    assert response.json()["embedding_config"] == archive["embedding_config"]
    empty = api.patch(f"/v1/archives/{archive['id']}", json={"name": ""})
    assert empty.status_code == 422
    assert api.get(f"/v1/archives/{archive['id']}").json()["name"] == new_name


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/v1/archives/{MISSING_ARCHIVE}", None),
        ("PATCH", f"/v1/archives/{MISSING_ARCHIVE}", {"name": "x"}),
        ("DELETE", f"/v1/archives/{MISSING_ARCHIVE}", None),
        ("POST", f"/v1/archives/{MISSING_ARCHIVE}/passages", {"text": "t"}),
        ("POST", f"/v1/archives/{MISSING_ARCHIVE}/passages/batch", {"passages": [{"text": "t"}]}),
        ("DELETE", f"/v1/archives/{MISSING_ARCHIVE}/passages/{MISSING_PASSAGE}", None),
    ],
)
def test_unknown_archive_is_404_naming_it(
    api: httpx.Client, method: str, path: str, body: Any
) -> None:
    response = api.request(method, path, json=body)

    assert response.status_code == 404, response.text
    assert MISSING_ARCHIVE in detail_text(response)


# --------------------------------------------------------------------------- passages


def test_archive_passages_carry_their_archive_and_embedding(
    api: httpx.Client, make_archive: Any
) -> None:
    archive = make_archive()

    passage = add(api, archive["id"], "The office opens at 8am.", tags=["hours"], metadata={"k": 1})

    assert passage["id"].startswith("passage-")
    assert passage["archive_id"] == archive["id"]
    assert passage["tags"] == ["hours"]
    assert passage["metadata"] == {"k": 1}
    assert passage["embedding_config"] == archive["embedding_config"]


def test_batch_adds_every_passage_or_none(api: httpx.Client, make_archive: Any) -> None:
    archive = make_archive()
    texts = ["Alpha fact about comets.", "Beta fact about rivers.", "Gamma fact about bread."]

    response = api.post(
        f"/v1/archives/{archive['id']}/passages/batch",
        json={"passages": [{"text": text} for text in texts]},
    )

    assert response.status_code == 200, response.text
    assert [p["text"] for p in response.json()] == texts
    bad = api.post(
        f"/v1/archives/{archive['id']}/passages/batch",
        json={"passages": [{"text": "fine"}, {"text": "", "tags": ["x"]}]},
    )
    assert bad.status_code == 422
    bad_time = api.post(
        f"/v1/archives/{archive['id']}/passages/batch",
        json={"passages": [{"text": "fine"}, {"text": "t", "created_at": "yesterday"}]},
    )
    assert bad_time.status_code == 422
    assert "created_at" in detail_text(bad_time)
    found = passage_search(api, archive_id=archive["id"], limit=100)
    assert sorted(hit["passage"]["text"] for hit in found) == sorted(texts)
    empty = api.post(f"/v1/archives/{archive['id']}/passages/batch", json={"passages": []})
    assert empty.status_code == 422


def test_deleting_a_passage_removes_it_from_search(
    api: httpx.Client, make_archive: Any, make_agent: AgentFactory
) -> None:
    archive, other = make_archive(), make_archive()
    kept = add(api, archive["id"], "Kept: the canteen serves soup on Fridays.")
    gone = add(api, archive["id"], "Gone: the parking garage closes at midnight.")
    agent = make_agent()
    attach(api, agent["id"], archive["id"]).raise_for_status()
    assert "parking" in " ".join(search(api, agent["id"], "parking garage"))

    wrong_archive = api.delete(f"/v1/archives/{other['id']}/passages/{gone['id']}")
    deleted = api.delete(f"/v1/archives/{archive['id']}/passages/{gone['id']}")

    assert wrong_archive.status_code == 404
    assert deleted.status_code == 200
    assert listed_texts(api, agent["id"]) == [kept["text"]]
    assert gone["text"] not in search(api, agent["id"], "parking garage")


# --------------------------------------------------------------------------- agents


def test_attached_archive_is_searched_and_listed_by_the_agent(
    api: httpx.Client, make_archive: Any, make_agent: AgentFactory
) -> None:
    archive = make_archive()
    fact = "The VPN password rotates on the first Monday of each month."
    add(api, archive["id"], fact)
    agent = make_agent()
    own = api.post(
        f"/v1/agents/{agent['id']}/archival-memory", json={"text": "I like tea."}
    ).json()[0]
    assert fact not in search(api, agent["id"], "VPN password rotation")

    attached = attach(api, agent["id"], archive["id"])

    assert attached.status_code == 200, attached.text
    assert attached.json()["id"] == agent["id"]
    assert search(api, agent["id"], "VPN password rotation")[0] == fact
    assert sorted(listed_texts(api, agent["id"])) == sorted([fact, own["text"]])
    assert attach(api, agent["id"], archive["id"]).status_code == 200  # idempotent

    detached = api.patch(f"/v1/agents/{agent['id']}/archives/detach/{archive['id']}")

    assert detached.status_code == 200
    assert fact not in search(api, agent["id"], "VPN password rotation")
    assert listed_texts(api, agent["id"]) == [own["text"]]


def test_one_archive_is_shared_by_two_agents_without_leaking_their_own(
    api: httpx.Client, make_archive: Any, make_agent: AgentFactory
) -> None:
    archive = make_archive()
    shared = "Shared: the quarterly all-hands is in the atrium."
    add(api, archive["id"], shared)
    first, second = make_agent(), make_agent()
    private = "Private: my locker code is 4471."
    api.post(f"/v1/agents/{first['id']}/archival-memory", json={"text": private})
    for agent in (first, second):
        attach(api, agent["id"], archive["id"]).raise_for_status()

    assert shared in search(api, second["id"], "all-hands atrium")
    assert shared in search(api, first["id"], "all-hands atrium")
    assert private not in search(api, second["id"], "locker code")
    in_archive = [hit["passage"]["text"] for hit in passage_search(api, archive_id=archive["id"])]
    assert in_archive == [shared]


def test_attaching_an_archive_with_another_embedding_is_a_conflict(
    api: httpx.Client, make_archive: Any, make_agent: AgentFactory
) -> None:
    archive = make_archive(embedding=PROVIDER_EMBEDDING)
    agent = make_agent()

    response = attach(api, agent["id"], archive["id"])

    assert response.status_code == 409
    detail = detail_text(response)
    assert PROVIDER_EMBEDDING in detail and "local/all-MiniLM-L6-v2" in detail
    listed = api.get("/v1/archives/", params={"agent_id": agent["id"]}).json()
    assert listed == []


def test_agent_with_the_archive_embedding_can_attach_it(
    api: httpx.Client, make_archive: Any, make_agent: AgentFactory
) -> None:
    archive = make_archive(embedding=PROVIDER_EMBEDDING)
    add(api, archive["id"], "The invoice total was 420 euros")
    agent = make_agent(embedding=PROVIDER_EMBEDDING)

    assert attach(api, agent["id"], archive["id"]).status_code == 200
    assert search(api, agent["id"], "invoice total euros")[0] == "The invoice total was 420 euros"


@pytest.mark.parametrize("action", ["attach", "detach"])
def test_attach_or_detach_unknown_ids_is_404(
    api: httpx.Client, make_archive: Any, make_agent: AgentFactory, action: str
) -> None:
    archive = make_archive()
    agent = make_agent()

    no_archive = api.patch(f"/v1/agents/{agent['id']}/archives/{action}/{MISSING_ARCHIVE}")
    no_agent = api.patch(f"/v1/agents/{MISSING_AGENT}/archives/{action}/{archive['id']}")

    assert no_archive.status_code == 404 and MISSING_ARCHIVE in detail_text(no_archive)
    assert no_agent.status_code == 404 and MISSING_AGENT in detail_text(no_agent)


def test_deleting_an_archive_takes_its_passages_from_attached_agents(
    api: httpx.Client, make_archive: Any, make_agent: AgentFactory
) -> None:
    archive = make_archive()
    add(api, archive["id"], "Ephemeral: the coffee machine is on floor three.")
    agent = make_agent()
    attach(api, agent["id"], archive["id"]).raise_for_status()

    assert api.delete(f"/v1/archives/{archive['id']}").status_code == 200

    assert api.get(f"/v1/archives/{archive['id']}").status_code == 404
    assert listed_texts(api, agent["id"]) == []
    assert search(api, agent["id"], "coffee machine floor") == []
    assert api.get(f"/v1/agents/{agent['id']}").status_code == 200


def test_deleting_an_agent_keeps_the_archive(
    api: httpx.Client, make_archive: Any, make_agent: AgentFactory
) -> None:
    archive = make_archive()
    add(api, archive["id"], "Durable: backups run nightly at 2am.")
    agent = make_agent()
    attach(api, agent["id"], archive["id"]).raise_for_status()

    api.delete(f"/v1/agents/{agent['id']}").raise_for_status()

    assert api.get(f"/v1/archives/{archive['id']}").status_code == 200
    assert len(passage_search(api, archive_id=archive["id"], query="backups")) == 1


def test_the_model_finds_archive_passages_with_its_search_tool(
    api: httpx.Client, fake_llm: FakeLLM, make_archive: Any, make_agent: AgentFactory
) -> None:
    archive = make_archive()
    fact = "The wifi network in the library is called Owl-5G."
    add(api, archive["id"], fact)
    agent = make_agent()
    attach(api, agent["id"], archive["id"]).raise_for_status()
    fake_llm.script(
        reply.tool_call("archival_memory_search", {"query": "library wifi network"}),
        reply.text("It is Owl-5G."),
    )

    response = api.post(f"/v1/agents/{agent['id']}/messages", json={"input": "wifi name?"})

    assert response.status_code == 200, response.text
    returned = fake_llm.chat_requests[1].tool_results[-1]
    assert json.loads(returned)[0]["content"] == fact


# --------------------------------------------------------------------------- passage search


def test_passage_search_by_agent_covers_its_archives_with_scores(
    api: httpx.Client, make_archive: Any, make_agent: AgentFactory
) -> None:
    archive = make_archive()
    from_archive = add(api, archive["id"], "Shipping to Norway takes five days.", tags=["ship"])
    agent = make_agent()
    attach(api, agent["id"], archive["id"]).raise_for_status()
    api.post(
        f"/v1/agents/{agent['id']}/archival-memory",
        json={"text": "Shipping to Chile takes twelve days.", "tags": ["ship"]},
    ).raise_for_status()

    hits = passage_search(api, agent_id=agent["id"], query="shipping Norway days")

    assert hits[0]["passage"]["id"] == from_archive["id"]
    assert hits[0]["passage"]["archive_id"] == archive["id"]
    assert hits[0]["score"] > 0
    assert {hit["passage"]["text"] for hit in hits} == {
        "Shipping to Norway takes five days.",
        "Shipping to Chile takes twelve days.",
    }
    tagged = passage_search(api, agent_id=agent["id"], tags=["ship"], query=None)
    assert len(tagged) == 2 and all(hit["score"] == 0 for hit in tagged)
    assert passage_search(api, agent_id=agent["id"], tags=["nope"], query="shipping") == []
    future = passage_search(api, agent_id=agent["id"], start_date="2999-01-01", query="shipping")
    assert future == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": "x", "archive_id": "{archive}", "agent_id": "{agent}"}, "archive_id"),
        ({"query": "x", "archive_id": "{archive}", "start_date": "soon"}, "start_date"),
        ({"query": "x", "archive_id": "{archive}", "limit": 0}, "limit"),
    ],
)
def test_bad_passage_search_is_422_naming_the_field(
    api: httpx.Client,
    make_archive: Any,
    make_agent: AgentFactory,
    body: dict[str, Any],
    field: str,
) -> None:
    ids = {"{archive}": make_archive()["id"], "{agent}": make_agent()["id"]}
    filled = {key: ids.get(value, value) for key, value in body.items()}

    response = api.post("/v1/passages/search", json=filled)

    assert response.status_code == 422, response.text
    assert field in error_fields(response)


def test_agent_cannot_switch_embedding_away_from_an_attached_archive(api: httpx.Client) -> None:
    agent = api.post("/v1/agents/", json={"model": "openai/gpt-4o-mini"}).json()
    archive = api.post("/v1/archives/", json={"name": "empty-local-archive"}).json()
    api.patch(f"/v1/agents/{agent['id']}/archives/attach/{archive['id']}").raise_for_status()

    response = api.patch(
        f"/v1/agents/{agent['id']}", json={"embedding": "openai/text-embedding-3-small"}
    )

    assert response.status_code == 409
    assert archive["id"] in response.json()["detail"]
    unchanged = api.get(f"/v1/agents/{agent['id']}").json()
    assert unchanged["embedding_config"]["handle"] == "local/all-MiniLM-L6-v2"
