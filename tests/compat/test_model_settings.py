"""An agent's ``model_settings`` through letta-client: set on create and update, shown on
retrieve, and sent to the model (the fake LLM records each request)."""

from __future__ import annotations

import pytest
from letta_client import Letta, UnprocessableEntityError
from letta_client.types import OpenAIModelSettings

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply

SCHEMA = {
    "name": "answer",
    "schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def test_settings_given_on_create_are_shown_and_sent_to_the_model(
    client: Letta, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = make_agent(
        model_settings={
            "provider_type": "openai",
            "temperature": 0.2,
            "max_output_tokens": 512,
            "parallel_tool_calls": True,
            "reasoning": {"reasoning_effort": "low"},
            "response_format": {"type": "json_object"},
        }
    )
    fake_llm.script(reply.text('{"ok": true}'))

    client.agents.messages.create(agent.id, input="Answer in JSON.")
    shown = client.agents.retrieve(agent.id).api_model_settings

    assert isinstance(shown, OpenAIModelSettings)
    assert shown.provider_type == "openai"
    assert shown.temperature == 0.2 and shown.max_output_tokens == 512
    assert shown.parallel_tool_calls is True
    assert shown.reasoning is not None and shown.reasoning.reasoning_effort == "low"
    assert shown.response_format is not None and shown.response_format.type == "json_object"
    sent = fake_llm.chat_requests[-1].json
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 512
    assert sent["parallel_tool_calls"] is True
    assert sent["reasoning_effort"] == "low"
    assert sent["response_format"] == {"type": "json_object"}


def test_an_update_changes_only_the_settings_sent(
    client: Letta, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = make_agent(model_settings={"provider_type": "openai", "temperature": 0.3})
    before = agent.api_model_settings
    assert isinstance(before, OpenAIModelSettings)

    updated = client.agents.update(
        agent.id,
        model_settings={
            "provider_type": "openai",
            "max_output_tokens": 300,
            "response_format": {"type": "json_schema", "json_schema": SCHEMA},
        },
    )
    fake_llm.script(reply.text('{"city": "Lyon"}'))
    client.agents.messages.create(agent.id, input="Which city?")

    after = updated.api_model_settings
    assert isinstance(after, OpenAIModelSettings)
    assert after.temperature == 0.3 and after.max_output_tokens == 300
    assert after.parallel_tool_calls == before.parallel_tool_calls
    assert updated.response_format is not None and updated.response_format.type == "json_schema"
    sent = fake_llm.chat_requests[-1].json
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 300
    assert sent["response_format"] == {"type": "json_schema", "json_schema": SCHEMA}


def test_retrieved_settings_can_be_sent_back_unchanged(
    client: Letta, make_agent: AgentFactory
) -> None:
    agent = make_agent(model_settings={"provider_type": "openai", "temperature": 0.5})
    shown = agent.api_model_settings
    assert shown is not None

    again = client.agents.update(agent.id, model_settings=shown.model_dump(exclude_none=True))

    assert again.api_model_settings == shown


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"provider_type": "anthropic", "thinking": {"type": "enabled"}}, "provider_type"),
        ({"provider_type": "openai", "thinking": {"type": "enabled"}}, "thinking"),
        ({"provider_type": "openai", "strict": True}, "strict"),
        ({"provider_type": "openai", "temperature": 3}, "temperature"),
        ({"provider_type": "openai", "reasoning": {"reasoning_effort": "huge"}}, "reasoning"),
        ({"provider_type": "openai", "response_format": {"type": "yaml"}}, "response_format"),
    ],
)
def test_a_setting_that_cannot_be_honoured_is_a_422_naming_it(
    client: Letta, make_agent: AgentFactory, settings: dict[str, object], field: str
) -> None:
    agent = make_agent()

    with pytest.raises(UnprocessableEntityError) as refused:
        client.agents.update(agent.id, model_settings=settings)  # type: ignore[arg-type]

    assert f"model_settings.{field}" in str(refused.value)
    assert client.agents.retrieve(agent.id).api_model_settings == agent.api_model_settings
