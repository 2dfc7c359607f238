"""Agents can use the provider's embedding models by handle, beside the local default."""

from __future__ import annotations

import httpx

from tests.fakes import FakeLLM


def test_embedding_models_list_local_and_provider_models(api: httpx.Client) -> None:
    handles = {m["handle"]: m for m in api.get("/v1/models/embedding").json()}
    assert handles["local/all-MiniLM-L6-v2"]["embedding_dim"] == 384
    assert "openai/text-embedding-3-small" in handles
    llm_handles = [m["handle"] for m in api.get("/v1/models/").json()]
    assert "openai/gpt-4o-mini" in llm_handles
    assert "openai/text-embedding-3-small" not in llm_handles


def test_agent_with_provider_embedding_stores_and_finds_passages(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    created = api.post(
        "/v1/agents/",
        json={
            "name": "openai-embedder",
            "model": "openai/gpt-4o-mini",
            "embedding": "openai/text-embedding-3-small",
        },
    )
    assert created.status_code == 200, created.text
    agent = created.json()
    assert agent["embedding_config"]["embedding_dim"] == 1536
    assert agent["embedding_config"]["handle"] == "openai/text-embedding-3-small"
    agent_id = agent["id"]
    for text in ("The invoice total was 420 euros", "Bananas are yellow fruit"):
        api.post(f"/v1/agents/{agent_id}/archival-memory", json={"text": text}).raise_for_status()
    embedded_before = len(fake_llm.embedding_requests)
    found = api.get(
        f"/v1/agents/{agent_id}/archival-memory/search", params={"query": "invoice total euros"}
    ).json()
    assert found["results"][0]["content"] == "The invoice total was 420 euros"
    assert len(fake_llm.embedding_requests) == embedded_before + 1


def test_unknown_embedding_handle_is_rejected_naming_the_field(api: httpx.Client) -> None:
    response = api.post(
        "/v1/agents/", json={"model": "openai/gpt-4o-mini", "embedding": "openai/no-such-model"}
    )
    assert response.status_code == 422
    assert "embedding" in response.json()["detail"]
