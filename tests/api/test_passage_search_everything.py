"""POST /v1/passages/search without agent_id or archive_id: every passage, every agent's and
every archive's, by keywords and meaning fused, or newest first without a query."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory
from tests.fakes import FakeLLM


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_archive(api: httpx.Client) -> Iterator[Any]:
    created: list[str] = []

    def factory(**fields: Any) -> dict[str, Any]:
        response = api.post("/v1/archives/", json={"name": unique("archive"), **fields})
        assert response.status_code == 200, response.text
        created.append(response.json()["id"])
        return dict(response.json())

    yield factory
    for archive_id in created:
        api.delete(f"/v1/archives/{archive_id}")


def remember(api: httpx.Client, agent_id: str, text: str, **fields: Any) -> None:
    response = api.post(f"/v1/agents/{agent_id}/archival-memory", json={"text": text, **fields})
    assert response.status_code == 200, response.text


def file_away(api: httpx.Client, archive_id: str, text: str) -> None:
    response = api.post(f"/v1/archives/{archive_id}/passages", json={"text": text})
    assert response.status_code == 200, response.text


def search_all(api: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    response = api.post("/v1/passages/search", json=body)
    assert response.status_code == 200, response.text
    return list(response.json())


def texts(results: list[dict[str, Any]]) -> list[str]:
    return [result["passage"]["text"] for result in results]


def test_finds_passages_of_every_agent_and_archive(
    api: httpx.Client, make_agent: AgentFactory, make_archive: Any
) -> None:
    word = uuid.uuid4().hex[:10]
    first, second, archive = make_agent(), make_agent(), make_archive()
    remember(api, first["id"], f"The {word} lighthouse keeper is Ada.")
    remember(api, second["id"], f"Grace repaired the {word} lighthouse lamp.")
    file_away(api, archive["id"], f"Maintenance log of the {word} lighthouse.")
    remember(api, second["id"], "Unrelated: the bakery opens at seven.")

    found = search_all(api, query=f"{word} lighthouse", limit=10)

    assert sorted(texts(found)[:3]) == sorted(
        [
            f"The {word} lighthouse keeper is Ada.",
            f"Grace repaired the {word} lighthouse lamp.",
            f"Maintenance log of the {word} lighthouse.",
        ]
    )
    owners = {r["passage"]["agent_id"] or r["passage"]["archive_id"] for r in found[:3]}
    assert owners == {first["id"], second["id"], archive["id"]}
    assert all(r["score"] > 0 for r in found[:3])
    assert all(r["passage"]["embedding_config"] is not None for r in found)


def test_meaning_alone_finds_a_passage_across_agents(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    tag = unique("pets")
    agents = [make_agent() for _ in range(3)]
    remember(api, agents[0]["id"], "My cat sleeps on the windowsill all afternoon.", tags=[tag])
    remember(api, agents[1]["id"], "Quarterly revenue grew by four percent.", tags=[tag])
    remember(api, agents[2]["id"], "The train to Lyon leaves at noon.", tags=[tag])

    found = search_all(api, query="feline napping", tags=[tag], limit=3)

    assert texts(found)[0] == "My cat sleeps on the windowsill all afternoon."


def test_without_a_query_the_newest_passages_matching_the_filters_come_first(
    api: httpx.Client, make_agent: AgentFactory, make_archive: Any
) -> None:
    tag = unique("notes")
    agent, archive = make_agent(), make_archive()
    remember(api, agent["id"], "first note", tags=[tag])
    remember(api, agent["id"], "second note", tags=[tag])
    remember(api, agent["id"], "untagged note")

    found = search_all(api, tags=[tag])
    newest = search_all(api, limit=1)
    file_away(api, archive["id"], "the very latest")

    assert texts(found) == ["second note", "first note"]
    assert all(r["score"] == 0 for r in found)
    assert texts(newest) == ["untagged note"]
    assert texts(search_all(api, limit=1)) == ["the very latest"]


def test_filters_still_apply_and_bad_ones_are_named(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    word = uuid.uuid4().hex[:10]
    remember(api, make_agent()["id"], f"{word} in the archive")

    assert search_all(api, query=word, start_date="2999-01-01") == []
    assert search_all(api, query=word, tags=[unique("none")]) == []
    bad = api.post("/v1/passages/search", json={"query": word, "end_date": "later"})
    assert bad.status_code == 422 and "end_date" in bad.text


def test_each_embedding_model_ranks_its_own_passages(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    word = uuid.uuid4().hex[:10]
    local = make_agent()
    remote = make_agent(embedding="openai/text-embedding-3-small")
    remember(api, local["id"], f"The {word} ferry leaves at dawn.")
    remember(api, remote["id"], f"The {word} ferry was late again.")
    asked = len(fake_llm.embedding_requests)

    found = search_all(api, query=f"{word} ferry", limit=10)

    owners = {r["passage"]["agent_id"] for r in found[:2]}
    assert owners == {local["id"], remote["id"]}
    configs = {r["passage"]["agent_id"]: r["passage"]["embedding_config"] for r in found[:2]}
    assert configs[remote["id"]]["handle"] == "openai/text-embedding-3-small"
    # The query was embedded by the provider's model too, for its agents' passages.
    queries = [r.json["input"] for r in fake_llm.embedding_requests[asked:]]
    assert [f"{word} ferry"] in queries
