"""Core memory blocks over HTTP: /v1/blocks CRUD, sharing between agents, attach/detach."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.api.conftest import AgentFactory, core_memory, detail_text

BLOCK_FIELDS = {
    "value", "limit", "project_id", "template_name", "is_template", "template_id",
    "base_template_id", "deployment_id", "entity_id", "preserve_on_migration", "label",
    "read_only", "description", "metadata", "hidden", "id", "created_by_id",
    "last_updated_by_id", "tags",
}  # fmt: skip


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_block(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/blocks/", json=fields)
    assert response.status_code == 200, response.text
    return response.json()


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


# --------------------------------------------------------------------------- CRUD


def test_create_block_returns_the_contract_block(api: httpx.Client) -> None:
    label = unique("notes")

    block = create_block(
        api,
        label=label,
        value="remember the milk",
        limit=500,
        description="shopping",
        metadata={"source": "test"},
        tags=["groceries"],
        read_only=True,
    )

    assert set(block) >= BLOCK_FIELDS, BLOCK_FIELDS - set(block)
    assert block["id"].startswith("block-")
    assert block["label"] == label
    assert block["value"] == "remember the milk"
    assert block["limit"] == 500
    assert block["description"] == "shopping"
    assert block["metadata"] == {"source": "test"}
    assert block["tags"] == ["groceries"]
    assert block["read_only"] is True
    assert block["is_template"] is False


def test_created_block_can_be_retrieved(api: httpx.Client) -> None:
    block = create_block(api, label=unique("kept"), value="stored value")

    response = api.get(f"/v1/blocks/{block['id']}")

    assert response.status_code == 200
    assert response.json() == block


def test_modify_block_changes_value_description_and_limit(api: httpx.Client) -> None:
    block = create_block(api, label=unique("edit"), value="v1", limit=100)

    response = api.patch(
        f"/v1/blocks/{block['id']}",
        json={"value": "v2", "description": "now described", "limit": 50},
    )

    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["value"], changed["description"], changed["limit"]) == (
        "v2",
        "now described",
        50,
    )
    fetched = api.get(f"/v1/blocks/{block['id']}").json()
    assert (fetched["value"], fetched["description"], fetched["limit"]) == (
        "v2",
        "now described",
        50,
    )
    assert fetched["label"] == block["label"]


def test_modify_block_label(api: httpx.Client) -> None:
    block = create_block(api, label=unique("old"), value="v")
    new_label = unique("new")

    response = api.patch(f"/v1/blocks/{block['id']}", json={"label": new_label})

    assert response.status_code == 200, response.text
    assert api.get(f"/v1/blocks/{block['id']}").json()["label"] == new_label


def test_delete_block_makes_it_404(api: httpx.Client) -> None:
    block = create_block(api, label=unique("doomed"), value="v")

    response = api.delete(f"/v1/blocks/{block['id']}")

    assert response.status_code == 200
    missing = api.get(f"/v1/blocks/{block['id']}")
    assert missing.status_code == 404
    assert block["id"] in detail_text(missing)


def test_deleting_a_block_removes_it_from_the_agents_holding_it(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    block = create_block(api, label=unique("gone"), value="v")
    agent = make_agent(memory_blocks=[{"label": "persona", "value": "p"}], block_ids=[block["id"]])
    assert block["label"] in core_memory(api, agent["id"])

    assert api.delete(f"/v1/blocks/{block['id']}").status_code == 200

    assert core_memory(api, agent["id"]) == {"persona": "p"}
    fetched = api.get(f"/v1/agents/{agent['id']}").json()
    assert [b["label"] for b in fetched["blocks"]] == ["persona"]


# --------------------------------------------------------------------------- list


def test_list_blocks_filters_by_label(api: httpx.Client) -> None:
    label = unique("filtered")
    first = create_block(api, label=label, value="one")
    second = create_block(api, label=label, value="two")
    create_block(api, label=unique("other"), value="three")

    response = api.get("/v1/blocks/", params={"label": label})

    assert response.status_code == 200
    assert sorted(ids(response.json())) == sorted([first["id"], second["id"]])
    assert all(block["label"] == label for block in response.json())


def test_list_blocks_pages_with_after_before_and_limit(api: httpx.Client) -> None:
    label = unique("paged")
    made = [create_block(api, label=label, value=str(i)) for i in range(5)]
    expected = ids(made)

    first = api.get("/v1/blocks/", params={"label": label, "limit": 2, "order": "asc"}).json()
    second = api.get(
        "/v1/blocks/",
        params={"label": label, "limit": 2, "order": "asc", "after": first[-1]["id"]},
    ).json()
    earlier = api.get(
        "/v1/blocks/", params={"label": label, "order": "asc", "before": expected[2]}
    ).json()
    newest_first = api.get("/v1/blocks/", params={"label": label, "order": "desc"}).json()

    assert ids(first) == expected[:2]
    assert ids(second) == expected[2:4]
    assert ids(earlier) == expected[:2]
    assert ids(newest_first) == expected[::-1]


# --------------------------------------------------------------------------- default limits


def test_persona_and_human_blocks_default_to_lettas_100000_char_limit(api: httpx.Client) -> None:
    persona = create_block(api, label="persona", value="p")
    human = create_block(api, label="human", value="h")

    assert persona["limit"] == 100000
    assert human["limit"] == 100000


def test_agent_persona_and_human_blocks_default_to_lettas_100000_char_limit(
    make_agent: AgentFactory,
) -> None:
    agent = make_agent(
        memory_blocks=[{"label": "persona", "value": "p"}, {"label": "human", "value": "h"}]
    )

    assert {b["label"]: b["limit"] for b in agent["blocks"]} == {
        "persona": 100000,
        "human": 100000,
    }


def test_other_blocks_default_to_the_contract_limit_of_100000(api: httpx.Client) -> None:
    block = create_block(api, label=unique("misc"), value="v")

    assert block["limit"] == 100000


def test_a_100000_char_persona_fits_its_default_limit(api: httpx.Client) -> None:
    block = create_block(api, label="persona", value="x" * 100000)

    assert len(block["value"]) == 100000


def test_a_limit_beyond_ten_million_is_accepted_as_letta_accepts_it(api: httpx.Client) -> None:
    block = create_block(api, label=unique("big"), value="v", limit=50_000_000)
    raised = api.patch(f"/v1/blocks/{block['id']}", json={"limit": 2_147_483_647})

    assert block["limit"] == 50_000_000
    assert raised.status_code == 200
    assert raised.json()["limit"] == 2_147_483_647


def test_a_limit_beyond_what_a_block_stores_is_refused_naming_limit(api: httpx.Client) -> None:
    response = api.post(
        "/v1/blocks/", json={"label": unique("big"), "value": "v", "limit": 2_147_483_648}
    )

    assert response.status_code == 422
    assert "limit" in response.text


# --------------------------------------------------------------------------- sharing


def test_block_attached_to_two_agents_is_one_row_edited_via_blocks_endpoint(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    shared = create_block(api, label=unique("team"), value="v1")
    first = make_agent(block_ids=[shared["id"]])
    second = make_agent(block_ids=[shared["id"]])

    response = api.patch(f"/v1/blocks/{shared['id']}", json={"value": "v2 for everyone"})

    assert response.status_code == 200, response.text
    assert core_memory(api, first["id"])[shared["label"]] == "v2 for everyone"
    assert core_memory(api, second["id"])[shared["label"]] == "v2 for everyone"
    for agent in (first, second):
        state = api.get(f"/v1/agents/{agent['id']}").json()
        assert [b["id"] for b in state["blocks"]] == [shared["id"]]
        assert state["blocks"][0]["value"] == "v2 for everyone"


def test_editing_a_shared_block_through_one_agent_shows_in_the_other(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    shared = create_block(api, label=unique("team"), value="before")
    first = make_agent(block_ids=[shared["id"]])
    second = make_agent(block_ids=[shared["id"]])

    response = api.patch(
        f"/v1/agents/{first['id']}/core-memory/blocks/{shared['label']}",
        json={"value": "after, via the first agent"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["id"] == shared["id"]
    assert core_memory(api, second["id"])[shared["label"]] == "after, via the first agent"
    assert api.get(f"/v1/blocks/{shared['id']}").json()["value"] == "after, via the first agent"


def test_block_agents_endpoint_lists_every_agent_holding_the_block(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    shared = create_block(api, label=unique("team"), value="v")
    first = make_agent(block_ids=[shared["id"]])
    second = make_agent(block_ids=[shared["id"]])
    make_agent()

    response = api.get(f"/v1/blocks/{shared['id']}/agents")

    assert response.status_code == 200
    assert sorted(ids(response.json())) == sorted([first["id"], second["id"]])


def test_block_agents_endpoint_is_empty_for_an_unattached_block(api: httpx.Client) -> None:
    block = create_block(api, label=unique("alone"), value="v")

    response = api.get(f"/v1/blocks/{block['id']}/agents")

    assert response.status_code == 200
    assert response.json() == []


# --------------------------------------------------------------------------- per-agent blocks


def test_agent_core_memory_lists_and_retrieves_blocks_by_label(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        memory_blocks=[{"label": "persona", "value": "p"}, {"label": "human", "value": "h"}]
    )

    listed = api.get(f"/v1/agents/{agent['id']}/core-memory/blocks")
    one = api.get(f"/v1/agents/{agent['id']}/core-memory/blocks/human")

    assert listed.status_code == 200
    assert {b["label"] for b in listed.json()} == {"persona", "human"}
    assert one.status_code == 200
    assert one.json()["value"] == "h"
    assert one.json()["id"] in ids(agent["blocks"])


def test_agent_block_with_an_unknown_label_is_404_naming_the_label(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=[{"label": "persona", "value": "p"}])

    response = api.get(f"/v1/agents/{agent['id']}/core-memory/blocks/nonexistent-label")

    assert response.status_code == 404
    assert "nonexistent-label" in detail_text(response)


def test_modify_agent_block_changes_only_the_named_fields(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=[{"label": "human", "value": "Name: Ada", "limit": 300}])

    response = api.patch(
        f"/v1/agents/{agent['id']}/core-memory/blocks/human", json={"value": "Name: Grace"}
    )

    assert response.status_code == 200, response.text
    block = api.get(f"/v1/agents/{agent['id']}/core-memory/blocks/human").json()
    assert block["value"] == "Name: Grace"
    assert block["limit"] == 300


# --------------------------------------------------------------------------- attach / detach


def test_attach_block_adds_it_to_the_agent(api: httpx.Client, make_agent: AgentFactory) -> None:
    agent = make_agent(memory_blocks=[{"label": "persona", "value": "p"}])
    block = create_block(api, label=unique("extra"), value="attached value")

    response = api.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/attach/{block['id']}")

    assert response.status_code == 200, response.text
    assert block["id"] in ids(response.json()["blocks"])
    assert core_memory(api, agent["id"])[block["label"]] == "attached value"
    holders = api.get(f"/v1/blocks/{block['id']}/agents").json()
    assert ids(holders) == [agent["id"]]


def test_attaching_the_same_block_twice_keeps_one_copy(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    block = create_block(api, label=unique("once"), value="v")
    path = f"/v1/agents/{agent['id']}/core-memory/blocks/attach/{block['id']}"

    api.patch(path)
    response = api.patch(path)

    assert response.status_code == 200
    assert ids(response.json()["blocks"]).count(block["id"]) == 1


def test_attaching_a_block_whose_label_the_agent_has_is_refused(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=[{"label": "persona", "value": "mine"}])
    clash = create_block(api, label="persona", value="another persona")

    response = api.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/attach/{clash['id']}")

    assert 400 <= response.status_code < 500
    assert "persona" in detail_text(response)
    assert core_memory(api, agent["id"]) == {"persona": "mine"}


def test_detach_block_removes_it_from_the_agent_but_keeps_the_block(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    block = create_block(api, label=unique("detachable"), value="still here")
    agent = make_agent(memory_blocks=[{"label": "persona", "value": "p"}], block_ids=[block["id"]])

    response = api.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/detach/{block['id']}")

    assert response.status_code == 200, response.text
    assert block["id"] not in ids(response.json()["blocks"])
    assert core_memory(api, agent["id"]) == {"persona": "p"}
    kept = api.get(f"/v1/blocks/{block['id']}")
    assert kept.status_code == 200
    assert kept.json()["value"] == "still here"
    assert api.get(f"/v1/blocks/{block['id']}/agents").json() == []


def test_detaching_from_one_agent_leaves_the_block_on_the_other(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    shared = create_block(api, label=unique("team"), value="v")
    first = make_agent(block_ids=[shared["id"]])
    second = make_agent(block_ids=[shared["id"]])

    api.patch(f"/v1/agents/{first['id']}/core-memory/blocks/detach/{shared['id']}")

    assert shared["label"] not in core_memory(api, first["id"])
    assert core_memory(api, second["id"]) == {shared["label"]: "v"}


def test_attach_with_unknown_block_is_404_naming_it(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    missing = "block-00000000-0000-4000-8000-000000000000"

    response = api.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/attach/{missing}")

    assert response.status_code == 404
    assert missing in detail_text(response)
