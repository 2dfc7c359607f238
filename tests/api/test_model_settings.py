"""``model_settings`` over HTTP for an agent on an Anthropic model (thinking, the reply
budget, parallel tool use) and Letta's agent-level shortcuts (``max_tokens``,
``parallel_tool_calls``, ``response_format``); the fake LLM records what each call sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, error_fields, send_input
from tests.fakes import FakeLLM, reply
from tests.support.backends import Backend
from tests.support.inprocess import InProcessServer


@pytest.fixture(scope="module")
def anthropic_server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[InProcessServer]:
    """A server that also reaches the fake LLM through Anthropic's Messages API."""
    env = {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": fake_llm_server.url}
    server = InProcessServer(
        tmp_path_factory.mktemp("settings-anthropic"),
        fake_llm_server.base_url,
        env,
        database_url=backend.database_url(),
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def claude(anthropic_server: InProcessServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with anthropic_server.client() as api:
        yield api


def _create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/agents/", json={"model": "anthropic/gpt-4o-mini", **fields})
    assert response.status_code == 200, response.text
    return response.json()


def test_anthropic_thinking_and_budget_are_shown_and_sent(
    claude: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent = _create(
        claude,
        model_settings={
            "provider_type": "anthropic",
            "max_output_tokens": 6000,
            "temperature": 0.4,
            "parallel_tool_calls": False,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
        },
    )
    fake_llm.script(reply.text("Thought about it."))

    send_input(claude, agent["id"], "Think first.")

    shown = claude.get(f"/v1/agents/{agent['id']}").json()["model_settings"]
    assert shown["provider_type"] == "anthropic"
    assert shown["max_output_tokens"] == 6000 and shown["temperature"] == 0.4
    assert shown["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert shown["parallel_tool_calls"] is False
    sent = fake_llm.chat_requests[-1]
    assert sent.wire == "anthropic"
    assert sent.json["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent.json["max_tokens"] == 6000
    assert sent.json["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_turning_thinking_off_stops_sending_it(claude: httpx.Client, fake_llm: FakeLLM) -> None:
    agent = _create(claude, model_settings={"thinking": {"type": "enabled", "budget_tokens": 1024}})

    response = claude.patch(
        f"/v1/agents/{agent['id']}",
        json={"model_settings": {"provider_type": "anthropic", "thinking": {"type": "disabled"}}},
    )
    fake_llm.script(reply.text("No thinking."))
    send_input(claude, agent["id"], "Answer at once.")

    assert response.status_code == 200, response.text
    assert response.json()["model_settings"]["thinking"]["type"] == "disabled"
    assert "thinking" not in fake_llm.chat_requests[-1].json


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"response_format": {"type": "json_object"}}, "model_settings.response_format"),
        ({"reasoning": {"reasoning_effort": "low"}}, "model_settings.reasoning"),
        ({"temperature": 1.5}, "model_settings.temperature"),
        ({"thinking": {"type": "enabled", "budget_tokens": 10}}, "model_settings.thinking"),
        ({"provider_type": "openai"}, "model_settings.provider_type"),
        ({"effort": "high"}, "model_settings.effort"),
    ],
)
def test_anthropic_settings_it_cannot_honour_are_refused_and_nothing_is_created(
    claude: httpx.Client, settings: dict[str, Any], field: str
) -> None:
    before = len(claude.get("/v1/agents/", params={"limit": 1000}).json())

    response = claude.post(
        "/v1/agents/", json={"model": "anthropic/gpt-4o-mini", "model_settings": settings}
    )

    assert response.status_code == 422, response.text
    assert any(found.startswith(field) for found in error_fields(response)), response.text
    assert len(claude.get("/v1/agents/", params={"limit": 1000}).json()) == before


def test_agent_level_shortcuts_are_honoured(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = make_agent(
        max_tokens=700, parallel_tool_calls=True, response_format={"type": "json_object"}
    )
    fake_llm.script(reply.text("{}"))

    send_input(api, agent["id"], "JSON please.")

    assert agent["model_settings"]["max_output_tokens"] == 700
    assert agent["model_settings"]["parallel_tool_calls"] is True
    assert agent["response_format"] == {"type": "json_object"}
    sent = fake_llm.chat_requests[-1].json
    assert sent["max_tokens"] == 700 and sent["response_format"] == {"type": "json_object"}
    assert sent["parallel_tool_calls"] is True


def test_a_bad_shortcut_is_a_422_naming_it(api: httpx.Client, make_agent: AgentFactory) -> None:
    agent = make_agent()

    response = api.patch(f"/v1/agents/{agent['id']}", json={"response_format": {"type": "xml"}})

    assert response.status_code == 422
    assert "response_format" in error_fields(response)
    assert api.get(f"/v1/agents/{agent['id']}").json()["response_format"] is None
