"""Letta's per-request turn options Engram does not serve yet (``override_model``,
``override_system``) are refused with a 422 naming the option and what to
do instead, on every route that starts a turn, before any model call, run or message. Unset,
null or empty, they are the same as not sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import MODEL, AgentFactory, error_fields, message_count
from tests.fakes import FakeLLM, reply

UNSERVED = {
    "override_model": (MODEL, "PATCH /v1/agents/{agent_id} with model"),
    "override_system": ("You are a pirate.", "PATCH /v1/agents/{agent_id} with system"),
}
TURN_ROUTES = ["messages", "messages/stream", "messages/async"]


def run_count(api: httpx.Client, agent_id: str) -> int:
    response = api.get("/v1/runs/", params={"agent_id": agent_id, "limit": 1000})
    assert response.status_code == 200, response.text
    return len(response.json())


@pytest.mark.parametrize("route", TURN_ROUTES)
@pytest.mark.parametrize("option", UNSERVED)
def test_an_unserved_option_is_refused_naming_it_and_changes_nothing(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, route: str, option: str
) -> None:
    agent = make_agent()
    value, instead = UNSERVED[option]
    before = (message_count(api, agent["id"]), run_count(api, agent["id"]))

    response = api.post(
        f"/v1/agents/{agent['id']}/{route}",
        json={"input": "What is on my clipboard?", option: value},
    )

    assert response.status_code == 422, response.text
    assert error_fields(response) == [option]
    assert "not supported by this server yet" in response.text
    assert instead in response.text
    assert (message_count(api, agent["id"]), run_count(api, agent["id"])) == before
    assert fake_llm.chat_requests == []


@pytest.mark.parametrize("unset", [[], None])
def test_an_empty_or_null_option_is_no_option(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, unset: Any
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("Hello."))
    options = {"client_tools": unset, "override_model": None, "override_system": None}

    response = api.post(f"/v1/agents/{agent['id']}/messages", json={"input": "hi", **options})

    assert response.status_code == 200, response.text
    assert response.json()["messages"][-1]["content"] == "Hello."
