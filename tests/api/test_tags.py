"""GET /v1/tags/ with the contract's query parameters: name, query_text, order and cursors."""

from __future__ import annotations

import uuid

import httpx

from tests.api.conftest import AgentFactory


def tags(api: httpx.Client, **params: object) -> list[str]:
    response = api.get("/v1/tags/", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_tags_filter_order_and_page(api: httpx.Client, make_agent: AgentFactory) -> None:
    stem = f"tagtest-{uuid.uuid4().hex[:6]}"
    names = [f"{stem}-a", f"{stem}-b", f"{stem}-c"]
    make_agent(tags=names[:2])
    make_agent(tags=names[1:])

    assert tags(api, query_text=stem.upper()) == names
    assert tags(api, query_text=stem, order="desc") == names[::-1]
    assert tags(api, name=names[1]) == [names[1]]
    assert tags(api, query_text=stem, after=names[0]) == names[1:]
    assert tags(api, query_text=stem, before=names[2], limit=1) == [names[0]]
    assert tags(api, query_text=stem, order="desc", after=names[2]) == names[1::-1]
    assert api.get("/v1/tags/", params={"limit": 0}).status_code == 422
