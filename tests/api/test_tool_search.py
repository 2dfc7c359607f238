"""POST /v1/tools/search over HTTP: the tool catalogue searched by keywords (BM25 over name,
description and arguments), by meaning (embeddings) and both fused, with Letta's filters
and result shape."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

RESULT_KEYS = {"tool", "embedded_text", "fts_rank", "vector_rank", "combined_score"}

TIDE = '''
def {name}(harbour: str, hours_ahead: int = 6) -> str:
    """Predict the height of the sea tide at a harbour.

    Args:
        harbour: Name of the harbour.
        hours_ahead: How many hours from now.
    """
    return "1.2 m"
'''

CURRENCY = '''
def {name}(amount: float, kroner_to_pesos: bool = True) -> str:
    """Convert money between Danish kroner and Mexican pesos.

    Args:
        amount: The sum to convert.
        kroner_to_pesos: Which way to convert.
    """
    return "42"
'''


@pytest.fixture
def catalogue(api: httpx.Client) -> Iterator[dict[str, Any]]:
    """Two tools under a tag of this test's own: a tide predictor and a money converter."""
    tag = f"search-{uuid.uuid4().hex[:8]}"
    made: dict[str, Any] = {"tag": tag}
    for key, template in (("tide", TIDE), ("currency", CURRENCY)):
        name = f"{key}_{uuid.uuid4().hex[:8]}"
        response = api.post(
            "/v1/tools/", json={"source_code": template.format(name=name), "tags": [tag]}
        )
        assert response.status_code == 200, response.text
        made[key] = response.json()
    yield made
    for key in ("tide", "currency"):
        api.delete(f"/v1/tools/{made[key]['id']}")


def search(api: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    response = api.post("/v1/tools/search", json=body)
    assert response.status_code == 200, response.text
    return list(response.json())


def names(results: list[dict[str, Any]]) -> list[str]:
    return [result["tool"]["name"] for result in results]


def test_keyword_search_finds_a_tool_by_a_word_of_its_description_or_arguments(
    api: httpx.Client, catalogue: dict[str, Any]
) -> None:
    by_description = search(api, query="kroner", search_mode="fts")
    by_argument = search(api, query="harbour", search_mode="fts", tags=[catalogue["tag"]])
    by_name_part = search(api, query=catalogue["tide"]["name"], search_mode="fts")

    assert names(by_description) == [catalogue["currency"]["name"]]
    assert set(by_description[0]) == RESULT_KEYS
    assert by_description[0]["fts_rank"] == 1 and by_description[0]["vector_rank"] is None
    assert by_description[0]["combined_score"] > 0
    assert "kroner" in by_description[0]["embedded_text"].lower()
    assert by_description[0]["tool"]["id"] == catalogue["currency"]["id"]
    assert names(by_argument) == [catalogue["tide"]["name"]]
    assert names(by_name_part)[0] == catalogue["tide"]["name"]
    assert search(api, query="xylophone", search_mode="fts") == []


def test_vector_search_ranks_by_meaning_without_shared_words(
    api: httpx.Client, catalogue: dict[str, Any]
) -> None:
    found = search(
        api, query="ocean water level forecast", search_mode="vector", tags=[catalogue["tag"]]
    )

    assert names(found) == [catalogue["tide"]["name"], catalogue["currency"]["name"]]
    assert [r["vector_rank"] for r in found] == [1, 2]
    assert found[0]["combined_score"] > found[1]["combined_score"]


def test_hybrid_search_fuses_both_rankings(api: httpx.Client, catalogue: dict[str, Any]) -> None:
    found = search(api, query="exchange kroner", tags=[catalogue["tag"]])

    assert names(found)[0] == catalogue["currency"]["name"]
    assert found[0]["fts_rank"] == 1 and found[0]["vector_rank"] == 1


def test_filters_and_limit(api: httpx.Client, catalogue: dict[str, Any]) -> None:
    tagged = search(api, tags=[catalogue["tag"]])
    custom = search(api, query="tide harbour", tool_types=["custom"], search_mode="fts")
    core = search(api, query="tide harbour", tool_types=["letta_core"], search_mode="fts")
    one = search(api, query="convert money", tags=[catalogue["tag"]], limit=1)

    assert sorted(names(tagged)) == sorted(
        [catalogue["tide"]["name"], catalogue["currency"]["name"]]
    )
    assert all(r["combined_score"] == 0 for r in tagged)
    assert catalogue["tide"]["name"] in names(custom)
    assert catalogue["tide"]["name"] not in names(core)
    assert len(one) == 1


def test_bad_requests_are_422_naming_the_field(api: httpx.Client) -> None:
    for body, field in (
        ({"query": "x", "search_mode": "fuzzy"}, "search_mode"),
        ({"query": "x", "limit": 0}, "limit"),
        ({"query": "x", "limit": 101}, "limit"),
        ({"query": "x", "tags": "one"}, "tags"),
    ):
        response = api.post("/v1/tools/search", json=body)
        assert response.status_code == 422 and field in response.text, field
