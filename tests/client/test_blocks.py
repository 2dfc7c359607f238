"""``client.blocks`` and ``client.agents.blocks`` in-process: the same operations and shapes
as /v1/blocks and /v1/agents/{agent_id}/core-memory/blocks over HTTP."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from engram import AsyncEngram, Engram
from engram.errors import BlockTooLong, InvalidInput, NotFound
from tests.client.conftest import MODEL
from tests.fakes.fake_llm import FakeLLM
from tests.support.backends import Backend


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_a_block_has_the_shape_the_api_gives_it(engram_client: Engram, api: httpx.Client) -> None:
    label = unique("shape")
    block = engram_client.blocks.create(label=label, value="v", limit=100, tags=["t"])
    response = api.post(
        "/v1/blocks/", json={"label": label, "value": "v", "limit": 100, "tags": ["t"]}
    )
    assert response.status_code == 200, response.text
    over_http = response.json()
    try:
        mine = block.model_dump()
        assert mine.keys() == over_http.keys()
        assert {k: v for k, v in mine.items() if k != "id"} == {
            k: v for k, v in over_http.items() if k != "id"
        }
        assert engram_client.blocks.retrieve(block.id).model_dump() == mine
    finally:
        api.delete(f"/v1/blocks/{over_http['id']}")


def test_blocks_by_id_list_update_and_delete(engram_client: Engram) -> None:
    label = unique("by-id")
    first = engram_client.blocks.create(label=label, value="one")
    second = engram_client.blocks.create(label=label, value="two", description="d")

    assert [b.id for b in engram_client.blocks.list(label=label)] == [first.id, second.id]
    assert [b.id for b in engram_client.blocks.list(label=label, order="desc")] == [
        second.id,
        first.id,
    ]
    assert [b.id for b in engram_client.blocks.list(label=label, limit=1)] == [first.id]

    changed = engram_client.blocks.update(second.id, value="three")
    assert changed.value == "three" and changed.description == "d"  # the rest stays
    assert engram_client.blocks.retrieve(second.id).value == "three"

    assert engram_client.blocks.delete(first.id) is None
    with pytest.raises(NotFound):
        engram_client.blocks.retrieve(first.id)
    assert [b.id for b in engram_client.blocks.list(label=label)] == [second.id]


def test_an_agents_blocks_by_label(engram_client: Engram, api: httpx.Client) -> None:
    blocks = [{"label": "human", "value": "Sam"}, {"label": "persona", "value": "helpful"}]
    agent = engram_client.agents.create(model=MODEL, memory_blocks=blocks)
    listed = engram_client.agents.blocks.list(agent.id)
    assert [b.label for b in listed] == ["human", "persona"]
    rest_agent = api.post("/v1/agents/", json={"model": MODEL, "memory_blocks": blocks}).json()
    try:
        path = f"/v1/agents/{rest_agent['id']}/core-memory/blocks"
        over_http = api.get(path).json()
        assert [b.model_dump().keys() for b in listed] == [b.keys() for b in over_http]
        assert [b.value for b in listed] == [b["value"] for b in over_http]
        one_over_http = api.get(f"{path}/human").json()
        assert (
            engram_client.agents.blocks.retrieve("human", agent_id=agent.id).model_dump().keys()
            == one_over_http.keys()
        )
    finally:
        api.delete(f"/v1/agents/{rest_agent['id']}")

    human = engram_client.agents.blocks.retrieve("human", agent_id=agent.id)
    assert human.value == "Sam" and human.id == listed[0].id
    changed = engram_client.agents.blocks.update("human", agent_id=agent.id, value="Sam, 41")
    assert changed.value == "Sam, 41" and changed.id == human.id
    assert engram_client.blocks.retrieve(human.id).value == "Sam, 41"


def test_attach_detach_and_the_agents_of_a_block(engram_client: Engram) -> None:
    shared = engram_client.blocks.create(label=unique("shared"), value="team notes")
    one = engram_client.agents.create(model=MODEL)
    two = engram_client.agents.create(model=MODEL)

    attached = engram_client.agents.blocks.attach(shared.id, agent_id=one.id)
    assert shared.id in [b.id for b in attached.blocks]
    engram_client.agents.blocks.attach(shared.id, agent_id=two.id)
    holders = engram_client.blocks.agents.list(shared.id)
    assert [agent.id for agent in holders] == [one.id, two.id]
    assert holders[0].model_dump().keys() == one.model_dump().keys()

    engram_client.blocks.update(shared.id, value="edited once, seen by both")
    for agent_id in (one.id, two.id):
        seen = engram_client.agents.blocks.retrieve(shared.label, agent_id=agent_id)
        assert seen.value == "edited once, seen by both"

    detached = engram_client.agents.blocks.detach(shared.id, agent_id=one.id)
    assert shared.id not in [b.id for b in detached.blocks]
    assert [agent.id for agent in engram_client.blocks.agents.list(shared.id)] == [two.id]
    assert engram_client.blocks.retrieve(shared.id).value == "edited once, seen by both"


def test_unknown_blocks_labels_and_agents_are_not_found(engram_client: Engram) -> None:
    agent = engram_client.agents.create(model=MODEL)
    with pytest.raises(NotFound):
        engram_client.blocks.retrieve("block-00000000-0000-4000-8000-000000000000")
    with pytest.raises(NotFound, match="nothing"):
        engram_client.agents.blocks.retrieve("nothing", agent_id=agent.id)
    with pytest.raises(NotFound):
        engram_client.agents.blocks.list("agent-00000000-0000-4000-8000-000000000000")
    with pytest.raises(NotFound):
        engram_client.agents.blocks.attach("block-nothing", agent_id=agent.id)
    with pytest.raises(NotFound):
        engram_client.blocks.agents.list("block-nothing")


def test_bad_input_names_the_field_and_changes_nothing(engram_client: Engram) -> None:
    block = engram_client.blocks.create(label=unique("strict"), value="short", limit=10)
    with pytest.raises(BlockTooLong) as too_long:
        engram_client.blocks.update(block.id, value="far longer than ten")
    assert too_long.value.field == "value"
    with pytest.raises(InvalidInput, match="label"):
        engram_client.blocks.update(block.id, label="   ")
    with pytest.raises(InvalidInput, match="limit"):
        engram_client.blocks.create(label="x", value="y", limit=0)
    with pytest.raises(InvalidInput) as bad_order:
        engram_client.blocks.list(order="sideways")  # type: ignore[arg-type]
    assert bad_order.value.field == "order"
    assert engram_client.blocks.retrieve(block.id).model_dump() == block.model_dump()

    agent = engram_client.agents.create(
        model=MODEL,
        memory_blocks=[{"label": "human", "value": "a"}, {"label": "persona", "value": "b"}],
    )
    with pytest.raises(InvalidInput) as taken:
        engram_client.agents.blocks.update("persona", agent_id=agent.id, label="human")
    assert taken.value.field == "label"
    labels = [b.label for b in engram_client.agents.blocks.list(agent.id)]
    assert labels == ["human", "persona"]


async def test_the_async_client_serves_blocks(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    url = backend.database_url()
    async with await AsyncEngram.open(url if url is not None else tmp_path / "data") as client:
        agent = await client.agents.create(
            model=MODEL, memory_blocks=[{"label": "human", "value": "Ann"}]
        )
        human = await client.agents.blocks.update("human", agent_id=agent.id, value="Ann B.")
        assert (await client.blocks.retrieve(human.id)).value == "Ann B."
        holders = await client.blocks.agents.list(human.id)
        assert [a.id for a in holders] == [agent.id]


def test_path_labels_work_in_process(engram_client: Engram) -> None:
    """Labels holding `/` (Letta's MemFS paths) are created, read, edited and renamed."""
    agent = engram_client.agents.create(
        model=MODEL, memory_blocks=[{"label": "system/human/family", "value": "Two sisters."}]
    )
    family = engram_client.agents.blocks.retrieve("system/human/family", agent_id=agent.id)
    assert family.value == "Two sisters."
    edited = engram_client.agents.blocks.update(
        "system/human/family", agent_id=agent.id, label="system/human/kin", value="A cousin."
    )
    assert (edited.label, edited.value) == ("system/human/kin", "A cousin.")
    shared = engram_client.blocks.create(label=unique("reference/notes/"), value="Tea.")
    assert "/" in engram_client.blocks.retrieve(shared.id).label
    with pytest.raises(InvalidInput, match="label"):
        engram_client.blocks.create(label="x" * 256, value="too long a label")


def test_blocks_list_takes_the_apis_filters(engram_client: Engram) -> None:
    word = unique("filter")
    tagged = engram_client.blocks.create(label=f"a-{word}", value="Bees", tags=[f"t-{word}"])
    plain = engram_client.blocks.create(label=f"b-{word}", value="wasps", description="Stings")

    assert [b.id for b in engram_client.blocks.list(tags=[f"t-{word}"])] == [tagged.id]
    assert [b.id for b in engram_client.blocks.list(value_search="BEE")] == [tagged.id]
    assert [
        b.id for b in engram_client.blocks.list(label_search=word, description_search="sting")
    ] == [plain.id]
    assert engram_client.blocks.list(label_search=word, connected_to_agents_count_gt=0) == []
    assert engram_client.blocks.list(name=f"a-{word}") == []
