"""The catalogue through the in-process client: ``client.health()``, ``client.models``
and ``client.tags`` answer what the REST API answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram import Engram, __version__
from engram.errors import InvalidInput
from tests.client.rest import MODEL, create_agent, database_target, ok, rest_api
from tests.fakes import FakeLLM
from tests.support.backends import Backend


@pytest.fixture
def target(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> str:
    return database_target(fake_llm, tmp_path, backend, monkeypatch)


def test_health_and_models_read_as_the_rest_api_answers_them(target: str) -> None:
    with rest_api(target) as http:
        rest_health = ok(http.get("/v1/health/"))
        rest_models = ok(http.get("/v1/models/"))
        rest_openai = ok(http.get("/v1/models/", params={"provider_type": "openai"}))
        rest_embeddings = ok(http.get("/v1/models/embedding"))

    with Engram.open(target) as client:
        health = client.health()
        models = client.models.list()
        openai = client.models.list(provider_type="openai")
        nobody = client.models.list(provider_name="nobody")
        embeddings = client.models.embeddings.list()

    assert health.model_dump() == rest_health
    assert (health.status, health.version) == ("ok", __version__)
    assert [model.model_dump() for model in models] == rest_models
    assert MODEL in {model.handle for model in models}
    assert [model.model_dump() for model in openai] == rest_openai and nobody == []
    assert [model.model_dump() for model in embeddings] == rest_embeddings
    assert embeddings and all(model.embedding_dim > 0 for model in embeddings)


def test_tags_list_as_the_rest_api_answers_them(target: str) -> None:
    with rest_api(target) as http:
        create_agent(http, tags=["fruit-pear", "fruit-apple", "veg"])
        create_agent(http, tags=["fruit-pear"])
        rest_all = ok(http.get("/v1/tags/"))
        rest_fruit = ok(http.get("/v1/tags/", params={"query_text": "FRUIT", "order": "desc"}))
        rest_after = ok(http.get("/v1/tags/", params={"after": "fruit-apple", "limit": 1}))

    with Engram.open(target) as client:
        assert client.tags.list() == rest_all == ["fruit-apple", "fruit-pear", "veg"]
        assert client.tags.list(query_text="FRUIT", order="desc") == rest_fruit
        assert rest_fruit == ["fruit-pear", "fruit-apple"]
        assert client.tags.list(after="fruit-apple", limit=1) == rest_after == ["fruit-pear"]
        assert client.tags.list(name="veg") == ["veg"]


@pytest.mark.parametrize(
    ("options", "field"),
    [({"limit": 0}, "limit"), ({"order": "up"}, "order"), ({"order_by": "created_at"}, "order_by")],
)
def test_bad_tag_arguments_are_errors_naming_the_argument(
    engram_client: Engram, options: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        engram_client.tags.list(**options)

    assert refused.value.field == field
