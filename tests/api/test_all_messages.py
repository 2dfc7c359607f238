"""GET /v1/messages/ over HTTP: every agent's messages, with Letta's order, cursors, limit
and type filter, and clear errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory
from tests.fakes import FakeLLM, reply


def listed(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/v1/messages/", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def say(api: httpx.Client, agent_id: str, text: str) -> None:
    response = api.post(
        f"/v1/agents/{agent_id}/messages", json={"messages": [{"role": "user", "content": text}]}
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def two_agents(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> tuple[dict[str, Any], dict[str, Any]]:
    first, second = make_agent(), make_agent()
    fake_llm.script(reply.text("Hello Ada."), reply.text("Hello Grace."))
    say(api, first["id"], "I am Ada")
    say(api, second["id"], "I am Grace")
    return first, second


def test_lists_every_agents_messages_newest_first(
    api: httpx.Client, two_agents: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    first, second = two_agents

    newest = listed(api, limit=4)
    oldest_first = listed(api, order="asc", after=newest[-1]["id"])

    assert [m["content"] for m in newest] == [
        "Hello Grace.",
        "I am Grace",
        "Hello Ada.",
        "I am Ada",
    ]
    owners = [api.get(f"/v1/runs/{m['run_id']}").json()["agent_id"] for m in newest]
    assert owners == [second["id"], second["id"], first["id"], first["id"]]
    assert [m["content"] for m in oldest_first[:3]] == ["Hello Ada.", "I am Grace", "Hello Grace."]


def test_cursors_page_through_in_either_order(
    api: httpx.Client, two_agents: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    everything = listed(api, limit=4)
    ids = [m["id"] for m in everything]

    page_two = listed(api, limit=2, after=ids[1])
    before_last = listed(api, limit=4, before=ids[3])
    # Every agent's messages: other tests' agents on this server have older ones, so the
    # ascending page starts from a cursor among this test's messages.
    ascending = listed(api, order="asc", after=ids[3], limit=3)

    assert [m["id"] for m in page_two] == ids[2:4]
    assert [m["id"] for m in before_last] == ids[:3]
    assert [m["id"] for m in ascending] == ids[:3][::-1]


def test_type_filter_keeps_only_the_kinds_asked_for(
    api: httpx.Client, two_agents: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    users = listed(api, limit=4, include_return_message_types=["user_message"])
    both = listed(api, limit=4, include_return_message_types=["user_message", "assistant_message"])

    assert [m["content"] for m in users] == ["I am Grace", "I am Ada"]
    assert len(both) == 4


def test_an_unknown_conversation_id_is_not_found(
    api: httpx.Client, two_agents: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    unknown = "conv-00000000-0000-4000-8000-000000000000"
    assert api.get("/v1/messages/", params={"conversation_id": unknown}).status_code == 404


def test_bad_parameters_are_named(api: httpx.Client) -> None:
    unknown = "message-00000000-0000-4000-8000-000000000000"

    cases = {
        "order": api.get("/v1/messages/", params={"order": "sideways"}),
        "limit": api.get("/v1/messages/", params={"limit": 0}),
        "include_return_message_types": api.get(
            "/v1/messages/", params={"include_return_message_types": "shout_message"}
        ),
    }
    missing = api.get("/v1/messages/", params={"after": unknown})

    for field, response in cases.items():
        assert response.status_code == 422 and field in response.text, field
    assert missing.status_code == 404 and unknown in missing.json()["detail"]
