"""Bad requests get a 4xx that names what was wrong, and change nothing.

Every test snapshots what the API shows (agents, blocks, and one reference agent's messages
and passages) before the bad request and checks it is identical afterwards. The ``api``
fixture fails any test during which the server answered 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.api.conftest import (
    MODEL,
    AgentFactory,
    agent_count,
    block_count,
    core_memory,
    detail_text,
    error_fields,
    message_count,
    passage_count,
)
from tests.support.server import EngramServer

MISSING_AGENT = "agent-00000000-0000-4000-8000-000000000000"
MISSING_BLOCK = "block-00000000-0000-4000-8000-000000000000"
MISSING_PASSAGE = "passage-00000000-0000-4000-8000-000000000000"
MISSING_RUN = "run-00000000-0000-4000-8000-000000000000"
MISSING_TOOL = "tool-00000000-0000-4000-8000-000000000000"
MISSING_MESSAGE = "message-00000000-0000-4000-8000-000000000000"


@pytest.fixture
def agent(api: httpx.Client, make_agent: AgentFactory) -> dict[str, Any]:
    """A reference agent with blocks, one exchange of messages and one passage."""
    made = make_agent(
        memory_blocks=[
            {"label": "persona", "value": "I am the reference agent."},
            {"label": "human", "value": "Name: Ada", "limit": 100},
        ]
    )
    sent = api.post(f"/v1/agents/{made['id']}/messages", json={"input": "hello"})
    assert sent.status_code == 200, sent.text
    stored = api.post(f"/v1/agents/{made['id']}/archival-memory", json={"text": "a fact"})
    assert stored.status_code == 200, stored.text
    return made


def snapshot(api: httpx.Client, agent_id: str) -> dict[str, Any]:
    state = api.get(f"/v1/agents/{agent_id}").json()
    return {
        "agents": agent_count(api),
        "blocks": block_count(api),
        "messages": message_count(api, agent_id),
        "passages": passage_count(api, agent_id),
        "core_memory": core_memory(api, agent_id),
        "block_limits": {b["label"]: b["limit"] for b in state["blocks"]},
        "name": state["name"],
        "tags": state["tags"],
        "tools": sorted(tool["id"] for tool in state["tools"]),
        "context_window_limit": state["context_window_limit"],
    }


@contextmanager
def unchanged(api: httpx.Client, agent_id: str) -> Iterator[None]:
    before = snapshot(api, agent_id)
    yield
    assert snapshot(api, agent_id) == before


def assert_names(response: httpx.Response, field: str, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert field in error_fields(response) or field in detail_text(response), detail_text(response)


# --------------------------------------------------------------------------- unknown ids → 404


UNKNOWN_ID_REQUESTS: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", f"/v1/agents/{MISSING_AGENT}", None, MISSING_AGENT),
    ("PATCH", f"/v1/agents/{MISSING_AGENT}", {"name": "x"}, MISSING_AGENT),
    ("DELETE", f"/v1/agents/{MISSING_AGENT}", None, MISSING_AGENT),
    ("GET", f"/v1/agents/{MISSING_AGENT}/messages", None, MISSING_AGENT),
    ("POST", f"/v1/agents/{MISSING_AGENT}/messages", {"input": "hi"}, MISSING_AGENT),
    ("GET", f"/v1/agents/{MISSING_AGENT}/archival-memory", None, MISSING_AGENT),
    ("POST", f"/v1/agents/{MISSING_AGENT}/archival-memory", {"text": "t"}, MISSING_AGENT),
    ("GET", f"/v1/agents/{MISSING_AGENT}/archival-memory/search?query=x", None, MISSING_AGENT),
    ("GET", f"/v1/agents/{MISSING_AGENT}/core-memory/blocks", None, MISSING_AGENT),
    ("GET", f"/v1/agents/{MISSING_AGENT}/core-memory/blocks/human", None, MISSING_AGENT),
    (
        "PATCH",
        f"/v1/agents/{MISSING_AGENT}/core-memory/blocks/human",
        {"value": "v"},
        MISSING_AGENT,
    ),
    ("GET", f"/v1/agents/{MISSING_AGENT}/tools", None, MISSING_AGENT),
    ("GET", f"/v1/agents/{MISSING_AGENT}/context", None, MISSING_AGENT),
    ("GET", f"/v1/blocks/{MISSING_BLOCK}", None, MISSING_BLOCK),
    ("PATCH", f"/v1/blocks/{MISSING_BLOCK}", {"value": "v"}, MISSING_BLOCK),
    ("DELETE", f"/v1/blocks/{MISSING_BLOCK}", None, MISSING_BLOCK),
    ("GET", f"/v1/blocks/{MISSING_BLOCK}/agents", None, MISSING_BLOCK),
    ("GET", f"/v1/runs/{MISSING_RUN}", None, MISSING_RUN),
    ("GET", f"/v1/runs/{MISSING_RUN}/messages", None, MISSING_RUN),
    ("GET", f"/v1/runs/{MISSING_RUN}/steps", None, MISSING_RUN),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "named"),
    UNKNOWN_ID_REQUESTS,
    ids=[f"{m} {p.replace(MISSING_AGENT, '<agent>')}" for m, p, _, _ in UNKNOWN_ID_REQUESTS],
)
def test_unknown_id_gives_404_naming_it(
    api: httpx.Client,
    agent: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    named: str,
) -> None:
    with unchanged(api, agent["id"]):
        response = api.request(method, path, json=body)

    assert response.status_code == 404, response.text
    assert named in detail_text(response)


def test_unknown_passage_gives_404_naming_it(api: httpx.Client, agent: dict[str, Any]) -> None:
    with unchanged(api, agent["id"]):
        response = api.delete(f"/v1/agents/{agent['id']}/archival-memory/{MISSING_PASSAGE}")

    assert response.status_code == 404
    assert MISSING_PASSAGE in detail_text(response)


def test_passage_of_another_agent_cannot_be_deleted_through_this_one(
    api: httpx.Client, agent: dict[str, Any], make_agent: AgentFactory
) -> None:
    other = make_agent()
    theirs = api.post(f"/v1/agents/{other['id']}/archival-memory", json={"text": "theirs"})
    passage_id = theirs.json()[0]["id"]

    with unchanged(api, agent["id"]):
        response = api.delete(f"/v1/agents/{agent['id']}/archival-memory/{passage_id}")

    assert response.status_code == 404
    assert passage_id in detail_text(response)
    assert passage_count(api, other["id"]) == 1


def test_unknown_label_of_an_agent_block_gives_404_naming_it(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.patch(
            f"/v1/agents/{agent['id']}/core-memory/blocks/no-such-label", json={"value": "v"}
        )

    assert response.status_code == 404
    assert "no-such-label" in detail_text(response)


@pytest.mark.parametrize("action", ["attach", "detach"])
def test_attach_or_detach_of_an_unknown_block_gives_404_naming_it(
    api: httpx.Client, agent: dict[str, Any], action: str
) -> None:
    with unchanged(api, agent["id"]):
        response = api.patch(
            f"/v1/agents/{agent['id']}/core-memory/blocks/{action}/{MISSING_BLOCK}"
        )

    assert response.status_code == 404
    assert MISSING_BLOCK in detail_text(response)


@pytest.mark.parametrize("cursor", ["before", "after"])
@pytest.mark.parametrize(
    ("path", "missing"),
    [
        ("/v1/agents/", MISSING_AGENT),
        ("/v1/blocks/", MISSING_BLOCK),
        ("/v1/agents/{agent}/messages", MISSING_MESSAGE),
        ("/v1/agents/{agent}/archival-memory", MISSING_PASSAGE),
    ],
)
def test_unknown_pagination_cursor_gives_404_naming_it(
    api: httpx.Client, agent: dict[str, Any], path: str, missing: str, cursor: str
) -> None:
    response = api.get(path.format(agent=agent["id"]), params={cursor: missing})

    assert response.status_code == 404, response.text
    assert missing in detail_text(response)


def test_create_agent_with_unknown_block_id_gives_404_and_creates_nothing(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            "/v1/agents/",
            json={
                "model": MODEL,
                "memory_blocks": [{"label": "persona", "value": "would be orphaned"}],
                "block_ids": [MISSING_BLOCK],
            },
        )

    assert response.status_code == 404
    assert MISSING_BLOCK in detail_text(response)


def test_create_agent_with_unknown_tool_id_gives_404_and_creates_nothing(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            "/v1/agents/",
            json={
                "model": MODEL,
                "memory_blocks": [{"label": "persona", "value": "p"}],
                "tool_ids": [MISSING_TOOL],
            },
        )

    assert response.status_code == 404
    assert MISSING_TOOL in detail_text(response)


def test_modify_agent_with_unknown_block_id_gives_404_and_changes_nothing(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.patch(
            f"/v1/agents/{agent['id']}",
            json={"name": "renamed-by-a-failed-request", "block_ids": [MISSING_BLOCK]},
        )

    assert response.status_code == 404
    assert MISSING_BLOCK in detail_text(response)


def test_modify_agent_with_unknown_tool_id_gives_404_and_changes_nothing(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.patch(
            f"/v1/agents/{agent['id']}", json={"tags": ["changed"], "tool_ids": [MISSING_TOOL]}
        )

    assert response.status_code == 404
    assert MISSING_TOOL in detail_text(response)


# --------------------------------------------------------------------------- invalid bodies → 422


def test_memory_block_without_label_is_422_naming_label(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            "/v1/agents/", json={"model": MODEL, "memory_blocks": [{"value": "no label"}]}
        )

    assert_names(response, "label")


def test_memory_block_with_empty_label_is_422_naming_label(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            "/v1/agents/", json={"model": MODEL, "memory_blocks": [{"label": "", "value": "v"}]}
        )

    assert_names(response, "label")


def test_block_without_value_is_422_naming_value(api: httpx.Client, agent: dict[str, Any]) -> None:
    with unchanged(api, agent["id"]):
        response = api.post("/v1/blocks/", json={"label": "persona"})

    assert_names(response, "value")


@pytest.mark.parametrize("limit", [0, -5])
def test_block_limit_that_is_not_positive_is_422_naming_limit(
    api: httpx.Client, agent: dict[str, Any], limit: int
) -> None:
    with unchanged(api, agent["id"]):
        created = api.post("/v1/blocks/", json={"label": "x", "value": "", "limit": limit})
        in_agent = api.post(
            "/v1/agents/",
            json={"model": MODEL, "memory_blocks": [{"label": "x", "value": "", "limit": limit}]},
        )
        patched = api.patch(
            f"/v1/agents/{agent['id']}/core-memory/blocks/human", json={"limit": limit}
        )

    for response in (created, in_agent, patched):
        assert_names(response, "limit")


@pytest.mark.parametrize("limit", [0, -1, "lots"])
def test_list_limit_that_is_not_a_positive_number_is_422_naming_limit(
    api: httpx.Client, agent: dict[str, Any], limit: object
) -> None:
    for path in (
        "/v1/agents/",
        "/v1/blocks/",
        f"/v1/agents/{agent['id']}/messages",
        f"/v1/agents/{agent['id']}/archival-memory",
    ):
        assert_names(api.get(path, params={"limit": limit}), "limit")


def test_unknown_agent_type_is_422_naming_agent_type(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post("/v1/agents/", json={"model": MODEL, "agent_type": "super_agent"})

    assert_names(response, "agent_type")


@pytest.mark.parametrize(
    "model", ["openai/no-such-model", "nosuchprovider/gpt-4o-mini", "gpt-4o-mini", ""]
)
def test_unknown_model_handle_is_422_naming_model(
    api: httpx.Client, agent: dict[str, Any], model: str
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            "/v1/agents/",
            json={"model": model, "memory_blocks": [{"label": "persona", "value": "p"}]},
        )

    assert_names(response, "model")


def test_missing_model_is_422_naming_model(api: httpx.Client, agent: dict[str, Any]) -> None:
    with unchanged(api, agent["id"]):
        response = api.post("/v1/agents/", json={"name": "modelless"})

    assert_names(response, "model")


def test_modify_agent_to_an_unknown_model_is_422_naming_model(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.patch(f"/v1/agents/{agent['id']}", json={"model": "openai/nope"})

    assert_names(response, "model")
    assert api.get(f"/v1/agents/{agent['id']}").json()["model"] == MODEL


def test_unknown_embedding_handle_is_422_naming_embedding(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post("/v1/agents/", json={"model": MODEL, "embedding": "local/nope"})

    assert 400 <= response.status_code < 500, response.text
    assert "embedding" in detail_text(response)


def test_embedding_config_for_a_model_nobody_offers_is_refused(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    """Accepting it would give an agent that claims a 7-dim 'nope' model while its passages
    are embedded with some other model."""
    with unchanged(api, agent["id"]):
        response = api.post(
            "/v1/agents/",
            json={
                "model": MODEL,
                "embedding_config": {
                    "embedding_endpoint_type": "openai",
                    "embedding_model": "nope",
                    "embedding_dim": 7,
                },
            },
        )

    assert 400 <= response.status_code < 500, response.text
    assert "embedding" in detail_text(response)


@pytest.mark.parametrize("limit", [100, 255, 0, -1])
def test_context_window_limit_too_small_is_422_naming_it(
    api: httpx.Client, agent: dict[str, Any], limit: int
) -> None:
    with unchanged(api, agent["id"]):
        created = api.post("/v1/agents/", json={"model": MODEL, "context_window_limit": limit})
        modified = api.patch(f"/v1/agents/{agent['id']}", json={"context_window_limit": limit})

    assert_names(created, "context_window_limit")
    assert_names(modified, "context_window_limit")


def test_unknown_tool_name_is_422_naming_it(api: httpx.Client, agent: dict[str, Any]) -> None:
    with unchanged(api, agent["id"]):
        response = api.post("/v1/agents/", json={"model": MODEL, "tools": ["teleport"]})

    assert_names(response, "tools")
    assert "teleport" in detail_text(response)


def test_two_memory_blocks_with_one_label_is_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            "/v1/agents/",
            json={
                "model": MODEL,
                "memory_blocks": [
                    {"label": "persona", "value": "one"},
                    {"label": "persona", "value": "two"},
                ],
            },
        )

    assert_names(response, "memory_blocks")


def test_agent_name_that_is_too_long_is_422_naming_name(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post("/v1/agents/", json={"model": MODEL, "name": "n" * 256})

    assert_names(response, "name")


@pytest.mark.parametrize(
    ("field", "value"),
    [("tags", "not-a-list"), ("metadata", "not-an-object"), ("memory_blocks", {"label": "x"})],
)
def test_agent_field_of_the_wrong_type_is_422_naming_it(
    api: httpx.Client, agent: dict[str, Any], field: str, value: object
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post("/v1/agents/", json={"model": MODEL, field: value})

    assert_names(response, field)


def test_body_that_is_not_json_is_422(api: httpx.Client, agent: dict[str, Any]) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            "/v1/agents/", content=b"{not json", headers={"content-type": "application/json"}
        )

    assert response.status_code == 422


@pytest.mark.parametrize("body", [{}, {"messages": []}, {"messages": None, "input": ""}])
def test_sending_no_messages_is_422_naming_messages(
    api: httpx.Client, agent: dict[str, Any], body: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(f"/v1/agents/{agent['id']}/messages", json=body)

    assert_names(response, "messages")


def test_message_with_an_unknown_role_is_422_naming_role(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            f"/v1/agents/{agent['id']}/messages",
            json={"messages": [{"role": "wizard", "content": "abracadabra"}]},
        )

    assert_names(response, "role")


def test_message_without_content_is_422_naming_content(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            f"/v1/agents/{agent['id']}/messages", json={"messages": [{"role": "user"}]}
        )

    assert_names(response, "content")


@pytest.mark.parametrize("max_steps", [0, -3])
def test_max_steps_that_is_not_positive_is_422_naming_it(
    api: httpx.Client, agent: dict[str, Any], max_steps: int
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            f"/v1/agents/{agent['id']}/messages", json={"input": "hi", "max_steps": max_steps}
        )

    assert_names(response, "max_steps")


def test_empty_passage_text_is_422_naming_text(api: httpx.Client, agent: dict[str, Any]) -> None:
    with unchanged(api, agent["id"]):
        empty = api.post(f"/v1/agents/{agent['id']}/archival-memory", json={"text": ""})
        missing = api.post(f"/v1/agents/{agent['id']}/archival-memory", json={})

    assert_names(empty, "text")
    assert_names(missing, "text")


def test_passage_with_a_bad_created_at_is_422_naming_it(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            f"/v1/agents/{agent['id']}/archival-memory",
            json={"text": "t", "created_at": "yesterday-ish"},
        )

    assert_names(response, "created_at")


def test_archival_search_without_query_is_422_naming_query(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    missing = api.get(f"/v1/agents/{agent['id']}/archival-memory/search")
    empty = api.get(f"/v1/agents/{agent['id']}/archival-memory/search", params={"query": ""})

    assert_names(missing, "query")
    assert_names(empty, "query")


@pytest.mark.parametrize(("param", "value"), [("top_k", 0), ("tag_match_mode", "some")])
def test_archival_search_with_bad_options_is_422_naming_them(
    api: httpx.Client, agent: dict[str, Any], param: str, value: object
) -> None:
    response = api.get(
        f"/v1/agents/{agent['id']}/archival-memory/search", params={"query": "x", param: value}
    )

    assert_names(response, param)


def test_list_order_that_is_not_asc_or_desc_is_422_naming_order(api: httpx.Client) -> None:
    assert_names(api.get("/v1/agents/", params={"order": "sideways"}), "order")


# --------------------------------------------------------------------------- block limits


def test_creating_a_block_over_its_limit_is_refused_naming_the_limit(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post("/v1/blocks/", json={"label": "notes", "value": "x" * 51, "limit": 50})

    assert 400 <= response.status_code < 500
    assert "50" in detail_text(response)
    assert "limit" in detail_text(response)


def test_a_persona_over_the_default_limit_is_refused_naming_the_limit(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post("/v1/blocks/", json={"label": "persona", "value": "x" * 100001})

    assert 400 <= response.status_code < 500
    assert "100,000" in detail_text(response) or "100000" in detail_text(response)


def test_creating_an_agent_with_a_block_over_its_limit_creates_nothing(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.post(
            "/v1/agents/",
            json={
                "model": MODEL,
                "memory_blocks": [
                    {"label": "persona", "value": "fine"},
                    {"label": "human", "value": "y" * 31, "limit": 30},
                ],
            },
        )

    assert 400 <= response.status_code < 500
    assert "30" in detail_text(response)


def test_patching_a_block_value_over_its_limit_is_refused_and_keeps_the_value(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    block_id = next(b["id"] for b in agent["blocks"] if b["label"] == "human")

    with unchanged(api, agent["id"]):
        response = api.patch(f"/v1/blocks/{block_id}", json={"value": "z" * 101})

    assert 400 <= response.status_code < 500
    assert "100" in detail_text(response)
    assert api.get(f"/v1/blocks/{block_id}").json()["value"] == "Name: Ada"


def test_patching_core_memory_over_the_limit_is_refused_and_keeps_the_value(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.patch(
            f"/v1/agents/{agent['id']}/core-memory/blocks/human", json={"value": "z" * 101}
        )

    assert 400 <= response.status_code < 500
    assert "100" in detail_text(response)
    assert core_memory(api, agent["id"])["human"] == "Name: Ada"


def test_lowering_a_limit_below_the_current_value_is_refused(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.patch(
            f"/v1/agents/{agent['id']}/core-memory/blocks/human", json={"limit": 5}
        )

    assert 400 <= response.status_code < 500
    assert "5" in detail_text(response)


def test_value_and_limit_changed_together_are_checked_together(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    response = api.patch(
        f"/v1/agents/{agent['id']}/core-memory/blocks/human",
        json={"value": "w" * 150, "limit": 200},
    )

    assert response.status_code == 200, response.text
    assert core_memory(api, agent["id"])["human"] == "w" * 150


def test_renaming_a_block_to_a_label_its_agent_already_has_is_refused(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    with unchanged(api, agent["id"]):
        response = api.patch(
            f"/v1/agents/{agent['id']}/core-memory/blocks/human", json={"label": "persona"}
        )

    assert 400 <= response.status_code < 500
    assert "persona" in detail_text(response)


def test_attaching_a_block_with_a_taken_label_changes_nothing(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    clash = api.post("/v1/blocks/", json={"label": "human", "value": "another human"}).json()

    with unchanged(api, agent["id"]):
        response = api.patch(f"/v1/agents/{agent['id']}/core-memory/blocks/attach/{clash['id']}")

    assert 400 <= response.status_code < 500
    assert "human" in detail_text(response)


def test_memory_block_and_attached_block_sharing_a_label_create_nothing(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    existing = api.post("/v1/blocks/", json={"label": "persona", "value": "attached"}).json()

    with unchanged(api, agent["id"]):
        response = api.post(
            "/v1/agents/",
            json={
                "model": MODEL,
                "memory_blocks": [{"label": "persona", "value": "new"}],
                "block_ids": [existing["id"]],
            },
        )

    assert 400 <= response.status_code < 500
    assert "persona" in detail_text(response)


# --------------------------------------------------------------------------- numbers out of range

HUGE = 10**20
"""Valid JSON, valid for pydantic's ``int``, but past SQLite's 64-bit INTEGER."""


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/v1/blocks/", {"label": "x", "value": "v", "limit": HUGE}, "limit"),
        ("PATCH", "/v1/blocks/{human}", {"limit": HUGE}, "limit"),
        ("PATCH", "/v1/agents/{agent}/core-memory/blocks/human", {"limit": HUGE}, "limit"),
        (
            "POST",
            "/v1/agents/",
            {"model": MODEL, "memory_blocks": [{"label": "x", "value": "v", "limit": HUGE}]},
            "limit",
        ),
        (
            "POST",
            "/v1/agents/",
            {"model": MODEL, "context_window_limit": HUGE},
            "context_window_limit",
        ),
        ("PATCH", "/v1/agents/{agent}", {"context_window_limit": HUGE}, "context_window_limit"),
    ],
    ids=[
        "create-block-limit",
        "patch-block-limit",
        "patch-core-memory-limit",
        "agent-memory-block-limit",
        "create-agent-context-window",
        "patch-agent-context-window",
    ],
)
def test_integer_too_large_to_store_is_422_naming_the_field(
    api: httpx.Client,
    engram_server: EngramServer,
    agent: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    human = next(b["id"] for b in agent["blocks"] if b["label"] == "human")
    target = path.format(agent=agent["id"], human=human)

    # Its own connection: after a 500, uvicorn drops the connection the answer went out on.
    with unchanged(api, agent["id"]), engram_server.client() as fresh:
        response = fresh.request(method, target, json=body)

    assert response.status_code == 422, response.text
    assert field in error_fields(response) or field in detail_text(response)
