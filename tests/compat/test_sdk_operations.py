"""Operations across agents through letta-client: every agent's messages, an agent's
recompiled system prompt, the tool catalogue's search and the search over every passage."""

from __future__ import annotations

import json
import uuid

import pytest
from letta_client import Letta, NotFoundError
from letta_client.types import AgentState
from letta_client.types.agents import AssistantMessage, UserMessage

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent(memory_blocks=[{"label": "human", "value": "Name: Ada"}])


def test_messages_list_pages_every_agents_messages(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    first, second = make_agent(), make_agent()
    fake_llm.script(reply.text("Hello Ada."), reply.text("Hello Grace."))
    client.agents.messages.create(first.id, input="I am Ada")
    client.agents.messages.create(second.id, input="I am Grace")

    newest = client.messages.list(limit=4)
    users = client.messages.list(limit=4, include_return_message_types=["user_message"])
    next_page = client.messages.list(limit=2, after=newest[1].id)

    assert [type(m) for m in newest] == [AssistantMessage, UserMessage] * 2
    assert [m.content for m in newest] == ["Hello Grace.", "I am Grace", "Hello Ada.", "I am Ada"]
    assert [m.content for m in users] == ["I am Grace", "I am Ada"]
    assert [m.id for m in next_page] == [m.id for m in newest[2:4]]


def test_recompile_returns_the_prompt_and_dry_run_too(client: Letta, agent: AgentState) -> None:
    client.agents.blocks.update("human", agent_id=agent.id, value="Name: Ada Lovelace")

    # Letta answers the prompt as a JSON string and letta-client hands back the body's text,
    # quotes and escapes included; as a Letta user would, decode it.
    prompt = json.loads(client.agents.recompile(agent.id))
    dry = json.loads(client.agents.recompile(agent.id, dry_run=True, update_timestamp=True))

    assert isinstance(prompt, str) and prompt.startswith(agent.system)
    assert "Name: Ada Lovelace" in prompt
    assert dry == prompt
    with pytest.raises(NotFoundError):
        client.agents.recompile("agent-00000000-0000-4000-8000-000000000000")


TIDE_SOURCE = '''
def {name}(harbour: str) -> str:
    """Predict the height of the sea tide at a harbour.

    Args:
        harbour: Name of the harbour.
    """
    return "1.2 m"
'''


def test_tools_search_finds_a_tool_by_what_it_does(client: Letta) -> None:
    name = f"tide_{uuid.uuid4().hex[:8]}"
    tag = f"sdk-{uuid.uuid4().hex[:8]}"
    tool = client.tools.create(source_code=TIDE_SOURCE.format(name=name), tags=[tag])
    try:
        hybrid = client.tools.search(query="sea tide at a harbour", tags=[tag])
        keyword = client.tools.search(query="harbour", search_mode="fts", limit=100)
        meaning = client.tools.search(query="ocean water level", search_mode="vector", tags=[tag])
    finally:
        client.tools.delete(tool.id)

    assert [r.tool.id for r in hybrid] == [tool.id]
    assert hybrid[0].fts_rank == 1 and hybrid[0].combined_score > 0
    assert tool.id in [r.tool.id for r in keyword]
    assert meaning[0].tool.name == name and meaning[0].vector_rank == 1


def test_passages_search_without_agent_or_archive_searches_everything(
    client: Letta, make_agent: AgentFactory
) -> None:
    word = uuid.uuid4().hex[:10]
    first, second = make_agent(), make_agent()
    client.agents.passages.create(first.id, text=f"The {word} key is under the mat.")
    client.agents.passages.create(second.id, text=f"The {word} spare key is in the shed.")

    found = client.passages.search(query=f"{word} key", limit=5)

    owners = {result.passage.agent_id for result in found[:2]}
    assert owners == {first.id, second.id}
    assert all(word in result.passage.text for result in found[:2])
