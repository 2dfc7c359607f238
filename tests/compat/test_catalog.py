"""Health, models, embedding models and tags through letta-client."""

from __future__ import annotations

import uuid

from letta_client import Letta

from engram import __version__
from tests.compat.conftest import MODEL, AgentFactory


def test_health_reports_ok_and_the_server_version(client: Letta) -> None:
    health = client.health()

    assert health.status == "ok"
    assert health.version == __version__


def test_models_list_offers_the_provider_models_as_handles(client: Letta) -> None:
    models = client.models.list()

    by_handle = {model.handle: model for model in models}
    assert MODEL in by_handle
    chosen = by_handle[MODEL]
    assert chosen.model == "gpt-4o-mini"
    assert chosen.context_window > 0
    assert chosen.max_context_window >= chosen.context_window
    assert chosen.provider_type == "openai"
    assert all(model.api_model_type == "llm" for model in models)


def test_embedding_models_list_includes_the_local_model(client: Letta) -> None:
    models = client.models.embeddings.list()

    assert models, "the bundled local embedding model is always offered"
    for model in models:
        assert model.handle and model.embedding_dim > 0
        assert model.api_model_type == "embedding"


def test_tags_list_names_every_tag_in_use_once(client: Letta, make_agent: AgentFactory) -> None:
    tag = f"tag-{uuid.uuid4().hex[:8]}"
    make_agent(tags=[tag, "shared-tag"])
    make_agent(tags=[tag])

    tags = client.tags.list()

    assert tags.count(tag) == 1
    assert "shared-tag" in tags


def test_tags_list_filters_by_substring_in_name_order(
    client: Letta, make_agent: AgentFactory
) -> None:
    stem = f"fruit-{uuid.uuid4().hex[:8]}"
    make_agent(tags=[f"{stem}-pear", f"{stem}-apple"])

    ascending = client.tags.list(query_text=stem)
    descending = client.tags.list(query_text=stem, order="desc")

    assert ascending == [f"{stem}-apple", f"{stem}-pear"]
    assert descending == [f"{stem}-pear", f"{stem}-apple"]
