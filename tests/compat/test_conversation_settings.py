"""A conversation's own ``model_settings`` reach its model calls, and a compact request's
``compaction_settings`` its fold, through letta-client (docs/conversations.md)."""

from __future__ import annotations

import pytest
from letta_client import Letta, UnprocessableEntityError
from letta_client.types import AgentState

from tests.compat.conftest import AgentFactory
from tests.compat.test_conversations import echo, send
from tests.fakes import FakeLLM, reply


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent(model_settings={"provider_type": "openai", "temperature": 0.7})


def test_a_conversations_model_settings_apply_to_its_turns_only(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    conv = client.conversations.create(
        agent_id=agent.id,
        model_settings={"provider_type": "openai", "temperature": 0.25, "max_output_tokens": 77},
    )

    send(client, conv.id, "in the conversation")
    sent = fake_llm.chat_requests[-1].json
    assert sent["temperature"] == 0.25 and sent["max_tokens"] == 77
    client.agents.messages.create(agent.id, input="in the default thread")
    assert fake_llm.chat_requests[-1].json["temperature"] == 0.7
    assert fake_llm.chat_requests[-1].json.get("max_tokens") != 77

    changed = client.conversations.update(
        conv.id, model_settings={"provider_type": "openai", "temperature": 0.5}
    )
    # letta-client 1.12.1 names the field api_model_settings (model_settings on the wire).
    assert changed.to_dict()["model_settings"]["temperature"] == 0.5
    send(client, conv.id, "after the change")
    assert fake_llm.chat_requests[-1].json["temperature"] == 0.5


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"provider_type": "openai", "temperature": 5}, "model_settings.temperature"),
        ({"provider_type": "anthropic"}, "model_settings.provider_type"),
    ],
)
def test_settings_the_model_cannot_take_are_refused_naming_them(
    client: Letta, agent: AgentState, settings: dict[str, object], field: str
) -> None:
    conv = client.conversations.create(agent_id=agent.id)

    with pytest.raises(UnprocessableEntityError) as on_create:
        client.conversations.create(agent_id=agent.id, model_settings=settings)  # type: ignore[arg-type]
    with pytest.raises(UnprocessableEntityError) as on_update:
        client.conversations.update(conv.id, model_settings=settings)  # type: ignore[arg-type]

    assert field in str(on_create.value) and field in str(on_update.value)
    assert [item.id for item in client.conversations.list(agent_id=agent.id)] == [conv.id]
    assert client.conversations.retrieve(conv.id).api_model_settings is None


def test_compact_uses_the_compaction_settings_sent(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    conv = client.conversations.create(agent_id=agent.id)
    for word in ("one", "two", "three"):
        send(client, conv.id, word)
    fake_llm.script(reply.text("Counted to three."))

    done = client.conversations.messages.compact(
        conv.id,
        compaction_settings={"model": "openai/fake-small", "prompt": "Summarize as a haiku."},
    )

    summarizer = fake_llm.chat_requests[-1]
    assert summarizer.model == "fake-small"
    assert "Summarize as a haiku." in summarizer.system_text
    assert done.summary == "Counted to three."
    # For that fold only: the agent's own settings are unchanged.
    kept = client.agents.retrieve(agent.id).compaction_settings
    assert kept is None or kept.prompt is None


def test_the_agents_compact_uses_the_compaction_settings_sent(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.fallback = echo
    for word in ("one", "two", "three"):
        client.agents.messages.create(agent.id, input=word)
    fake_llm.script(reply.text("Counted."))

    client.agents.messages.compact(agent.id, compaction_settings={"prompt": "Be terse."})

    assert "Be terse." in fake_llm.chat_requests[-1].system_text


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"model": "openai/no-such-model"}, "compaction_settings.model"),
        ({"clip_chars": 0}, "compaction_settings.clip_chars"),
        ({"trigger_fraction": 0.5, "target_fraction": 0.6}, "compaction_settings.target_fraction"),
    ],
)
def test_compaction_settings_that_cannot_apply_are_refused_and_nothing_folds(
    client: Letta, fake_llm: FakeLLM, agent: AgentState, settings: dict[str, object], field: str
) -> None:
    fake_llm.fallback = echo
    conv = client.conversations.create(agent_id=agent.id)
    for word in ("one", "two"):
        send(client, conv.id, word)
    before = client.conversations.retrieve(conv.id).in_context_message_ids

    with pytest.raises(UnprocessableEntityError) as caught:
        client.conversations.messages.compact(conv.id, compaction_settings=settings)  # type: ignore[arg-type]

    said = str(caught.value).replace("', '", ".")  # a body's loc, dotted
    assert field in said
    assert client.conversations.retrieve(conv.id).in_context_message_ids == before
