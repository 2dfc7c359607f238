"""/v1/agents over HTTP: create, list, count, retrieve, modify, delete, and /v1/tags/."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api.conftest import MODEL, AgentFactory, agent_count, core_memory

AGENT_STATE_FIELDS = {
    "created_by_id", "last_updated_by_id", "created_at", "updated_at", "id", "name",
    "tool_rules", "message_ids", "system", "agent_type", "llm_config", "embedding_config",
    "model", "embedding", "model_settings", "compaction_settings", "response_format",
    "description", "metadata", "memory", "blocks", "tools", "sources", "tags",
    "tool_exec_environment_variables", "secrets", "project_id", "template_id",
    "base_template_id", "deployment_id", "entity_id", "identity_ids", "identities",
    "pending_approval", "message_buffer_autoclear", "enable_sleeptime", "multi_agent_group",
    "managed_group", "last_run_completion", "last_run_duration_ms", "last_stop_reason",
    "timezone", "max_files_open", "per_file_view_window_char_limit", "hidden",
}  # fmt: skip
BLOCK_FIELDS = {
    "value", "limit", "project_id", "template_name", "is_template", "template_id",
    "base_template_id", "deployment_id", "entity_id", "preserve_on_migration", "label",
    "read_only", "description", "metadata", "hidden", "id", "created_by_id",
    "last_updated_by_id", "tags",
}  # fmt: skip
TOOL_FIELDS = {
    "id", "tool_type", "description", "source_type", "name", "tags", "source_code",
    "json_schema", "args_json_schema", "return_char_limit", "pip_requirements",
    "npm_requirements", "default_requires_approval", "enable_parallel_execution",
    "created_by_id", "last_updated_by_id", "metadata_", "project_id",
}  # fmt: skip


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def tool_names(agent: dict[str, Any]) -> set[str]:
    return {tool["name"] for tool in agent["tools"]}


def ids(agents: list[dict[str, Any]]) -> list[str]:
    return [agent["id"] for agent in agents]


def create_block(api: httpx.Client, label: str, value: str) -> dict[str, Any]:
    response = api.post("/v1/blocks/", json={"label": label, "value": value})
    assert response.status_code == 200, response.text
    return response.json()


# --------------------------------------------------------------------------- create


def test_create_agent_returns_the_contract_agent_state(make_agent: AgentFactory) -> None:
    name = unique("contract")
    agent = make_agent(
        name=name,
        system="You are a test agent.",
        description="checks the wire shape",
        metadata={"team": "qa", "n": 3},
        tags=["alpha", "beta"],
        memory_blocks=[
            {"label": "persona", "value": "I am careful."},
            {"label": "human", "value": "Name: Ada", "limit": 5000, "description": "the user"},
        ],
    )

    assert set(agent) >= AGENT_STATE_FIELDS, AGENT_STATE_FIELDS - set(agent)
    assert agent["id"].startswith("agent-")
    assert agent["name"] == name
    assert agent["system"] == "You are a test agent."
    assert agent["agent_type"] == "letta_v1_agent"
    assert agent["description"] == "checks the wire shape"
    assert agent["metadata"] == {"team": "qa", "n": 3}
    assert sorted(agent["tags"]) == ["alpha", "beta"]
    assert agent["sources"] == []

    blocks = {block["label"]: block for block in agent["blocks"]}
    assert set(blocks) == {"persona", "human"}
    for block in agent["blocks"]:
        assert set(block) >= BLOCK_FIELDS, BLOCK_FIELDS - set(block)
        assert block["id"].startswith("block-")
    assert blocks["persona"]["value"] == "I am careful."
    assert blocks["human"]["value"] == "Name: Ada"
    assert blocks["human"]["limit"] == 5000
    assert blocks["human"]["description"] == "the user"
    assert agent["memory"]["blocks"] == agent["blocks"]

    assert agent["tools"], "base tools are included by default"
    for tool in agent["tools"]:
        assert set(tool) >= TOOL_FIELDS, TOOL_FIELDS - set(tool)
        assert tool["id"].startswith("tool-")

    llm = agent["llm_config"]
    assert llm["handle"] == MODEL
    assert llm["model"] == "gpt-4o-mini"
    assert llm["model_endpoint_type"] == "openai"
    assert isinstance(llm["context_window"], int) and llm["context_window"] > 0
    assert agent["model"] == MODEL

    embedding = agent["embedding_config"]
    assert embedding["embedding_dim"] == 384
    assert embedding["embedding_model"]
    assert embedding["embedding_endpoint_type"]
    assert agent["embedding"] == embedding["handle"]
    assert agent["created_at"] is not None


def test_created_agent_is_retrievable_with_the_same_state(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        name=unique("retrieve"),
        tags=["t1"],
        memory_blocks=[{"label": "persona", "value": "p"}],
    )

    response = api.get(f"/v1/agents/{agent['id']}")

    assert response.status_code == 200
    fetched = response.json()
    for key in ("id", "name", "system", "agent_type", "llm_config", "embedding_config", "tags"):
        assert fetched[key] == agent[key], key
    assert ids(fetched["blocks"]) == ids(agent["blocks"])
    assert ids(fetched["tools"]) == ids(agent["tools"])


def test_letta_v1_agent_gets_memory_tools_but_no_send_message(make_agent: AgentFactory) -> None:
    agent = make_agent(agent_type="letta_v1_agent")

    names = tool_names(agent)
    assert "send_message" not in names
    assert {"core_memory_append", "archival_memory_insert", "archival_memory_search"} <= names
    assert {"conversation_search", "memory_replace", "memory_insert"} <= names


def test_memgpt_v2_agent_gets_send_message_among_its_tools(make_agent: AgentFactory) -> None:
    agent = make_agent(agent_type="memgpt_v2_agent")

    assert agent["agent_type"] == "memgpt_v2_agent"
    assert agent["memory"]["agent_type"] == "memgpt_v2_agent"
    assert "send_message" in tool_names(agent)
    assert "core_memory_append" in tool_names(agent)


def test_include_base_tools_false_gives_an_agent_without_tools(make_agent: AgentFactory) -> None:
    agent = make_agent(include_base_tools=False)

    assert agent["tools"] == []


def test_include_base_tools_false_keeps_only_the_named_tools(make_agent: AgentFactory) -> None:
    agent = make_agent(include_base_tools=False, tools=["archival_memory_search"])

    assert tool_names(agent) == {"archival_memory_search"}


def test_agent_without_a_name_gets_one(make_agent: AgentFactory) -> None:
    agent = make_agent()

    assert isinstance(agent["name"], str) and agent["name"]


def test_agent_tool_list_endpoint_matches_the_agent_state(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    response = api.get(f"/v1/agents/{agent['id']}/tools")

    assert response.status_code == 200
    assert sorted(ids(response.json())) == sorted(ids(agent["tools"]))


# --------------------------------------------------------------------------- list & count


def _five_tagged_agents(make_agent: AgentFactory) -> tuple[str, list[dict[str, Any]]]:
    tag = unique("page")
    return tag, [make_agent(name=f"{tag}-{i}", tags=[tag]) for i in range(5)]


def test_list_agents_orders_by_creation_ascending_and_descending(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    tag, agents = _five_tagged_agents(make_agent)

    ascending = api.get("/v1/agents/", params={"tags": tag, "order": "asc"}).json()
    descending = api.get("/v1/agents/", params={"tags": tag, "order": "desc"}).json()

    assert ids(ascending) == ids(agents)
    assert ids(descending) == ids(agents)[::-1]


def test_list_agents_pages_forward_with_after_and_limit(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    tag, agents = _five_tagged_agents(make_agent)
    expected = ids(agents)

    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"tags": tag, "order": "asc", "limit": 2}
        if after:
            params["after"] = after
        page = api.get("/v1/agents/", params=params).json()
        assert len(page) <= 2
        if not page:
            break
        seen.extend(ids(page))
        after = page[-1]["id"]

    assert seen == expected


def test_list_agents_before_cursor_gives_the_earlier_agents(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    tag, agents = _five_tagged_agents(make_agent)
    expected = ids(agents)

    page = api.get(
        "/v1/agents/", params={"tags": tag, "order": "asc", "before": expected[3]}
    ).json()

    assert ids(page) == expected[:3]


def test_list_agents_descending_pages_continue_with_after(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    tag, agents = _five_tagged_agents(make_agent)
    newest_first = ids(agents)[::-1]

    first = api.get("/v1/agents/", params={"tags": tag, "order": "desc", "limit": 2}).json()
    second = api.get(
        "/v1/agents/",
        params={"tags": tag, "order": "desc", "limit": 2, "after": first[-1]["id"]},
    ).json()

    assert ids(first) == newest_first[:2]
    assert ids(second) == newest_first[2:4]


def test_list_agents_between_two_cursors(api: httpx.Client, make_agent: AgentFactory) -> None:
    tag, agents = _five_tagged_agents(make_agent)
    expected = ids(agents)

    page = api.get(
        "/v1/agents/",
        params={"tags": tag, "order": "asc", "after": expected[0], "before": expected[4]},
    ).json()

    assert ids(page) == expected[1:4]


def test_list_agents_filters_by_exact_name(api: httpx.Client, make_agent: AgentFactory) -> None:
    name = unique("named")
    wanted = make_agent(name=name)
    make_agent(name=name + "-other")

    found = api.get("/v1/agents/", params={"name": name}).json()

    assert ids(found) == [wanted["id"]]


def test_list_agents_tag_filter_matches_any_tag_by_default(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    red, blue = unique("red"), unique("blue")
    only_red = make_agent(tags=[red])
    both = make_agent(tags=[red, blue])
    only_blue = make_agent(tags=[blue])
    make_agent(tags=[unique("green")])

    found = api.get("/v1/agents/", params=[("tags", red), ("tags", blue), ("order", "asc")])

    assert ids(found.json()) == [only_red["id"], both["id"], only_blue["id"]]


def test_list_agents_match_all_tags_needs_every_tag(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    red, blue = unique("red"), unique("blue")
    make_agent(tags=[red])
    both = make_agent(tags=[red, blue, unique("extra")])
    make_agent(tags=[blue])

    found = api.get(
        "/v1/agents/", params=[("tags", red), ("tags", blue), ("match_all_tags", "true")]
    )

    assert ids(found.json()) == [both["id"]]


def test_count_agents_counts_all_and_filtered(api: httpx.Client, make_agent: AgentFactory) -> None:
    before = agent_count(api)
    tag, _ = _five_tagged_agents(make_agent)

    assert agent_count(api) == before + 5
    tagged = api.get("/v1/agents/count", params={"tags": tag})
    assert tagged.status_code == 200
    assert tagged.json() == 5


def test_count_agents_by_name(api: httpx.Client, make_agent: AgentFactory) -> None:
    name = unique("counted")
    make_agent(name=name)
    make_agent(name=name)

    assert api.get("/v1/agents/count", params={"name": name}).json() == 2


# --------------------------------------------------------------------------- modify


def test_modify_agent_changes_name_tags_and_system(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(name=unique("before"), tags=["old"], system="old system")
    new_name = unique("after")

    response = api.patch(
        f"/v1/agents/{agent['id']}",
        json={"name": new_name, "tags": ["new", "newer"], "system": "new system"},
    )

    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["name"] == new_name
    assert sorted(changed["tags"]) == ["new", "newer"]
    assert changed["system"] == "new system"
    fetched = api.get(f"/v1/agents/{agent['id']}").json()
    assert fetched["name"] == new_name
    assert sorted(fetched["tags"]) == ["new", "newer"]
    assert fetched["system"] == "new system"


def test_modify_agent_leaves_fields_it_does_not_mention(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        name=unique("keep"),
        tags=["kept"],
        description="kept description",
        memory_blocks=[{"label": "persona", "value": "kept persona"}],
    )

    changed = api.patch(f"/v1/agents/{agent['id']}", json={"system": "only this"}).json()

    assert changed["name"] == agent["name"]
    assert changed["tags"] == ["kept"]
    assert changed["description"] == "kept description"
    assert ids(changed["blocks"]) == ids(agent["blocks"])
    assert ids(changed["tools"]) == ids(agent["tools"])


def test_modify_agent_context_window_limit_shows_in_llm_config(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    response = api.patch(f"/v1/agents/{agent['id']}", json={"context_window_limit": 4000})

    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["context_window_limit"] == 4000
    assert changed["llm_config"]["context_window"] == 4000
    assert api.get(f"/v1/agents/{agent['id']}").json()["context_window_limit"] == 4000


def test_create_agent_with_context_window_limit_sets_the_window(make_agent: AgentFactory) -> None:
    agent = make_agent(context_window_limit=5000)

    assert agent["context_window_limit"] == 5000
    assert agent["llm_config"]["context_window"] == 5000


def test_modify_agent_block_ids_replaces_the_attached_blocks(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=[{"label": "persona", "value": "original"}])
    first = create_block(api, unique("notes"), "n")
    second = create_block(api, "human", "h")

    response = api.patch(
        f"/v1/agents/{agent['id']}", json={"block_ids": [first["id"], second["id"]]}
    )

    assert response.status_code == 200, response.text
    assert sorted(ids(response.json()["blocks"])) == sorted([first["id"], second["id"]])
    assert set(core_memory(api, agent["id"])) == {first["label"], "human"}


def test_modify_agent_tool_ids_replaces_the_attached_tools(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    keep = [tool["id"] for tool in agent["tools"] if tool["name"] == "archival_memory_search"]

    response = api.patch(f"/v1/agents/{agent['id']}", json={"tool_ids": keep})

    assert response.status_code == 200, response.text
    assert tool_names(response.json()) == {"archival_memory_search"}
    listed = api.get(f"/v1/agents/{agent['id']}/tools").json()
    assert [tool["name"] for tool in listed] == ["archival_memory_search"]


def test_modify_agent_tool_ids_empty_list_removes_every_tool(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    response = api.patch(f"/v1/agents/{agent['id']}", json={"tool_ids": []})

    assert response.status_code == 200, response.text
    assert response.json()["tools"] == []


def test_modify_agent_metadata_and_description(api: httpx.Client, make_agent: AgentFactory) -> None:
    agent = make_agent(metadata={"a": 1})

    changed = api.patch(
        f"/v1/agents/{agent['id']}", json={"metadata": {"b": 2}, "description": "described"}
    ).json()

    assert changed["metadata"] == {"b": 2}
    assert changed["description"] == "described"


# --------------------------------------------------------------------------- delete


def test_delete_agent_removes_it_and_its_history_passages_and_own_blocks(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=[{"label": "persona", "value": "mine alone"}])
    own_block = agent["blocks"][0]["id"]
    sent = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": "hello"}]},
    )
    assert sent.status_code == 200, sent.text
    run_id = sent.json()["messages"][0]["run_id"]
    stored = api.post(f"/v1/agents/{agent['id']}/archival-memory", json={"text": "a fact"})
    assert stored.status_code == 200, stored.text
    count_before = agent_count(api)

    response = api.delete(f"/v1/agents/{agent['id']}")

    assert response.status_code == 200
    assert agent_count(api) == count_before - 1
    assert api.get(f"/v1/agents/{agent['id']}").status_code == 404
    assert api.get(f"/v1/agents/{agent['id']}/messages").status_code == 404
    assert api.get(f"/v1/agents/{agent['id']}/archival-memory").status_code == 404
    assert api.get(f"/v1/runs/{run_id}").status_code == 404
    assert api.get(f"/v1/blocks/{own_block}").status_code == 404
    assert agent["id"] not in ids(api.get("/v1/agents/", params={"limit": 1000}).json())


def test_delete_agent_keeps_a_block_shared_with_another_agent(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    shared = create_block(api, unique("shared"), "both of us")
    leaving = make_agent(block_ids=[shared["id"]])
    staying = make_agent(block_ids=[shared["id"]])

    assert api.delete(f"/v1/agents/{leaving['id']}").status_code == 200

    block = api.get(f"/v1/blocks/{shared['id']}")
    assert block.status_code == 200
    assert block.json()["value"] == "both of us"
    assert core_memory(api, staying["id"]) == {shared["label"]: "both of us"}
    holders = api.get(f"/v1/blocks/{shared['id']}/agents").json()
    assert ids(holders) == [staying["id"]]


def test_deleting_an_agent_twice_gives_404_the_second_time(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    assert api.delete(f"/v1/agents/{agent['id']}").status_code == 200
    again = api.delete(f"/v1/agents/{agent['id']}")

    assert again.status_code == 404
    assert agent["id"] in again.json()["detail"]


# --------------------------------------------------------------------------- tags


def test_tags_endpoint_lists_every_agent_tag_once_sorted(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    zebra, apple = unique("zz-zebra"), unique("aa-apple")
    make_agent(tags=[zebra, apple])
    make_agent(tags=[apple])

    response = api.get("/v1/tags/")

    assert response.status_code == 200
    tags = response.json()
    assert all(isinstance(tag, str) for tag in tags)
    assert tags == sorted(set(tags))
    assert tags.count(apple) == 1
    assert zebra in tags


def test_tag_of_a_deleted_agent_leaves_the_tag_list(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    tag = unique("ephemeral")
    agent = make_agent(tags=[tag])
    assert tag in api.get("/v1/tags/").json()

    api.delete(f"/v1/agents/{agent['id']}")

    assert tag not in api.get("/v1/tags/").json()


@pytest.mark.parametrize("field", ["tool_exec_environment_variables", "secrets"])
@pytest.mark.parametrize("variables", [{"A=B": "x"}, {"": "x"}, {"A": "x\u0000y"}])
def test_a_tool_variable_no_environment_can_hold_is_refused_naming_the_field(
    api: httpx.Client, make_agent: AgentFactory, field: str, variables: dict[str, str]
) -> None:
    agents_before = agent_count(api)
    created = api.post("/v1/agents/", json={"model": MODEL, field: variables})
    assert agent_count(api) == agents_before
    agent = make_agent(**{field: {"OK": "1"}})
    patched = api.patch(f"/v1/agents/{agent['id']}", json={field: variables})

    for response in (created, patched):
        assert response.status_code == 422, response.text
        assert field in [str(part) for part in response.json()["detail"][0]["loc"]]
    shown = api.get(f"/v1/agents/{agent['id']}").json()["tool_exec_environment_variables"]
    assert {v["key"]: v["value"] for v in shown} == {"OK": "1"}
