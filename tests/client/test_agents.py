"""``client.agents`` in-process: the same operations and shapes as /v1/agents over HTTP."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from engram import AsyncEngram, Engram
from engram.errors import InvalidInput, NotFound
from tests.client.conftest import MODEL
from tests.fakes.fake_llm import FakeLLM
from tests.support.backends import Backend


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def rest_agent(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/agents/", json={"model": MODEL, **fields})
    assert response.status_code == 200, response.text
    agent: dict[str, Any] = response.json()
    return agent


def test_create_returns_the_agent_state_the_api_returns(
    engram_client: Engram, api: httpx.Client
) -> None:
    fields: dict[str, Any] = {
        "name": unique("same-shape"),
        "memory_blocks": [{"label": "human", "value": "Sam"}],
        "tags": ["x"],
    }
    agent = engram_client.agents.create(model=MODEL, **fields)
    over_http = rest_agent(api, **fields)
    try:
        mine = agent.model_dump()
        assert mine.keys() == over_http.keys()
        assert mine["blocks"][0].keys() == over_http["blocks"][0].keys()
        assert mine["tools"][0].keys() == over_http["tools"][0].keys()
        for same in ("system", "agent_type", "llm_config", "model", "tags", "metadata"):
            assert mine[same] == over_http[same], same
        assert [b["value"] for b in mine["blocks"]] == ["Sam"]
        assert {t["name"] for t in mine["tools"]} == {t["name"] for t in over_http["tools"]}
        assert agent.name == fields["name"] and agent.blocks[0].label == "human"
    finally:
        api.delete(f"/v1/agents/{over_http['id']}")


def test_retrieve_and_list_answer_as_the_api_does(engram_client: Engram, api: httpx.Client) -> None:
    created = engram_client.agents.create(name=unique("listed"), model=MODEL)
    over_http = rest_agent(api, name=unique("listed"))
    try:
        fetched = engram_client.agents.retrieve(created.id)
        assert fetched.model_dump() == created.model_dump()
        listed = engram_client.agents.list(name=created.name)
        assert [agent.id for agent in listed] == [created.id]
        rest_listed = api.get("/v1/agents/", params={"name": over_http["name"]}).json()
        assert listed[0].model_dump().keys() == rest_listed[0].keys()
    finally:
        api.delete(f"/v1/agents/{over_http['id']}")


def test_list_filters_orders_and_pages_like_the_api(engram_client: Engram) -> None:
    tag = unique("tag")
    made = [engram_client.agents.create(model=MODEL, tags=[tag]) for _ in range(3)]
    engram_client.agents.create(model=MODEL, tags=["other"])
    ids = [agent.id for agent in made]

    assert [a.id for a in engram_client.agents.list(tags=[tag])] == ids[::-1]
    assert [a.id for a in engram_client.agents.list(tags=[tag], order="asc")] == ids
    assert [a.id for a in engram_client.agents.list(tags=[tag], ascending=True)] == ids
    assert [a.id for a in engram_client.agents.list(tags=[tag], limit=2)] == ids[:0:-1]
    after_first = engram_client.agents.list(tags=[tag], order="asc", after=ids[0])
    assert [a.id for a in after_first] == ids[1:]


def test_update_changes_only_the_fields_given(engram_client: Engram) -> None:
    agent = engram_client.agents.create(
        name=unique("before"),
        model=MODEL,
        description="kept",
        compaction_settings={"sliding_window_percentage": 0.4},
    )
    renamed = engram_client.agents.update(agent.id, name="after", tags=["new"])
    assert renamed.name == "after" and renamed.tags == ["new"]
    assert renamed.description == "kept"
    assert renamed.model_dump()["compaction_settings"] == agent.model_dump()["compaction_settings"]

    # Sent as null, compaction settings go back to the server's defaults; a null name stays.
    reset = engram_client.agents.update(agent.id, compaction_settings=None, name=None)
    assert reset.name == "after"
    assert reset.model_dump()["compaction_settings"] != agent.model_dump()["compaction_settings"]
    assert engram_client.agents.retrieve(agent.id).model_dump() == reset.model_dump()


def test_delete_removes_the_agent(engram_client: Engram) -> None:
    agent = engram_client.agents.create(model=MODEL)
    assert engram_client.agents.delete(agent.id) is None
    with pytest.raises(NotFound):
        engram_client.agents.retrieve(agent.id)
    with pytest.raises(NotFound):
        engram_client.agents.delete(agent.id)


def test_unknown_agents_are_not_found(engram_client: Engram) -> None:
    missing = "agent-00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFound, match=missing):
        engram_client.agents.retrieve(missing)
    with pytest.raises(NotFound, match=missing):
        engram_client.agents.update(missing, name="x")


def test_bad_input_names_the_field_and_changes_nothing(engram_client: Engram) -> None:
    agent = engram_client.agents.create(name=unique("steady"), model=MODEL)
    with pytest.raises(InvalidInput, match="name"):
        engram_client.agents.update(agent.id, name="")
    with pytest.raises(InvalidInput) as too_small:
        engram_client.agents.update(agent.id, context_window_limit=100)
    assert too_small.value.field == "context_window_limit"
    with pytest.raises(InvalidInput) as bad_limit:
        engram_client.agents.list(limit=0)
    assert bad_limit.value.field == "limit"
    assert engram_client.agents.retrieve(agent.id).model_dump() == agent.model_dump()

    before = len(engram_client.agents.list())
    with pytest.raises(InvalidInput, match="memory_blocks"):
        engram_client.agents.create(model=MODEL, memory_blocks=[{"label": "human"}])
    with pytest.raises(NotFound):
        engram_client.agents.create(model=MODEL, block_ids=["block-nothing"])
    with pytest.raises(InvalidInput) as no_model:
        engram_client.agents.create(name=unique("modelless"))
    assert no_model.value.field == "model"
    assert len(engram_client.agents.list()) == before


async def test_the_async_client_serves_the_same_operations(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    url = backend.database_url()
    async with await AsyncEngram.open(url if url is not None else tmp_path / "data") as client:
        agent = await client.agents.create(
            name=unique("async"), model=MODEL, memory_blocks=[{"label": "human", "value": "Ann"}]
        )
        assert [a.id for a in await client.agents.list(name=agent.name)] == [agent.id]
        changed = await client.agents.update(agent.id, description="async")
        assert changed.description == "async"
        assert (await client.agents.retrieve(agent.id)).model_dump() == changed.model_dump()
        await client.agents.delete(agent.id)
        with pytest.raises(NotFound):
            await client.agents.retrieve(agent.id)


def test_agents_list_takes_include_and_last_stop_reason(engram_client: Engram) -> None:
    tag = f"inc-{uuid.uuid4().hex[:8]}"
    made = engram_client.agents.create(model=MODEL, tags=[tag], timezone="Europe/Paris")
    try:
        (only_tags,) = engram_client.agents.list(tags=[tag], include=["agent.tags"])
        (fetched,) = engram_client.agents.list(tags=[tag])

        assert only_tags.tags == [tag] and only_tags.tools == [] and only_tags.blocks == []
        assert fetched.tools and fetched.timezone == "Europe/Paris"
        assert engram_client.agents.list(tags=[tag], last_stop_reason="end_turn") == []
    finally:
        engram_client.agents.delete(made.id)
