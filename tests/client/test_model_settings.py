"""``model_settings`` through the in-process client: taken on create and update as the
REST API takes them, shown on the agent, refused naming the field it cannot honour."""

from __future__ import annotations

import pytest

from engram import Engram
from engram.errors import InvalidInput
from tests.client.conftest import MODEL


def test_settings_are_taken_shown_and_refused_as_over_rest(engram_client: Engram) -> None:
    agent = engram_client.agents.create(
        model=MODEL, model_settings={"provider_type": "openai", "temperature": 0.1}
    )

    updated = engram_client.agents.update(agent.id, model_settings={"max_output_tokens": 256})
    with pytest.raises(InvalidInput) as refused:
        engram_client.agents.update(agent.id, model_settings={"thinking": {"type": "enabled"}})

    shown = updated.model_dump()["model_settings"]
    assert shown["provider_type"] == "openai"
    assert shown["temperature"] == 0.1 and shown["max_output_tokens"] == 256
    assert refused.value.field == "model_settings.thinking"
    after = engram_client.agents.retrieve(agent.id).model_dump()["model_settings"]
    assert after == shown
