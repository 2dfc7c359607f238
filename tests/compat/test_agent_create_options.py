"""The rest of Letta's agent create and update options through letta-client: multi-agent
tools, the default source and its chunk size, the reasoning switch; base tool rules and
hidden agents, which Engram does not have, are refused naming the field."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from letta_client import Letta, NotFoundError, UnprocessableEntityError
from letta_client.types import OpenAIModelSettings

from tests.compat.conftest import MODEL, AgentFactory
from tests.fakes import FakeLLM, reply

MULTI_AGENT_TOOLS = {
    "send_message_to_agent_and_wait_for_reply",
    "send_message_to_agent_async",
    "send_message_to_agents_matching_tags",
}


@pytest.fixture
def folders_made(client: Letta) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for folder_id in made:
        with contextlib.suppress(NotFoundError):
            client.folders.delete(folder_id)


def test_multi_agent_tools_are_added_on_request(make_agent: AgentFactory) -> None:
    # letta-client 1.12.1 has no argument for it; Letta's API takes it in the body.
    with_them = make_agent(extra_body={"include_multi_agent_tools": True})
    without = make_agent()

    assert {tool.name for tool in with_them.tools} >= MULTI_AGENT_TOOLS
    assert not MULTI_AGENT_TOOLS & {tool.name for tool in without.tools}


def test_a_default_source_is_made_and_attached(
    client: Letta, make_agent: AgentFactory, folders_made: list[str]
) -> None:
    name = f"keeper-{uuid.uuid4().hex[:8]}"

    agent = make_agent(name=name, include_default_source=True, embedding_chunk_size=120)
    folders_made.extend(source.id for source in agent.sources)
    twin = make_agent(name=name, include_default_source=True)
    folders_made.extend(source.id for source in twin.sources)

    (folder,) = agent.sources
    assert folder.name == f"{name}-default"
    assert folder.embedding_config.embedding_chunk_size == 120
    assert agent.embedding_config is not None
    assert agent.embedding_config.embedding_chunk_size == 120
    assert [f.id for f in client.agents.folders.list(agent.id).items] == [folder.id]
    (other,) = twin.sources
    assert other.name != folder.name and other.name.startswith(f"{name}-default-")


def test_reasoning_false_drops_the_reasoning_effort(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    settings = {"provider_type": "openai", "reasoning": {"reasoning_effort": "high"}}
    off_from_the_start = make_agent(model_settings=settings, reasoning=False)
    switched_off = client.agents.update(make_agent(model_settings=settings).id, reasoning=False)

    fake_llm.script(reply.text("ok"))
    client.agents.messages.create(switched_off.id, input="Hi.")

    for agent in (off_from_the_start, switched_off):
        shown = agent.api_model_settings
        assert isinstance(shown, OpenAIModelSettings)
        assert shown.reasoning is None or shown.reasoning.reasoning_effort is None
    assert "reasoning_effort" not in fake_llm.chat_requests[-1].json


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"include_base_tool_rules": True}, "include_base_tool_rules"),
        ({"hidden": True}, "hidden"),
        ({"embedding_chunk_size": 4}, "embedding_chunk_size"),
    ],
)
def test_options_engram_cannot_honour_are_refused(
    client: Letta, fields: dict[str, object], field: str
) -> None:
    name = f"refused-{uuid.uuid4().hex[:8]}"

    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.create(model=MODEL, name=name, **fields)  # type: ignore[arg-type]

    assert field in str(caught.value)
    assert client.agents.list(name=name).items == []


def test_hiding_an_agent_is_refused_on_update(client: Letta, make_agent: AgentFactory) -> None:
    agent = make_agent()

    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.update(agent.id, hidden=True)
    shown = client.agents.update(agent.id, hidden=False, description="still listed")

    assert "hidden" in str(caught.value)
    assert shown.description == "still listed"
