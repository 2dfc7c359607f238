"""Letta's multi-command memory tool, given to an agent by name through letta-client."""

from __future__ import annotations

from letta_client import Letta
from letta_client.types import ToolReturnMessage

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply


def test_agent_created_with_the_memory_tool_creates_a_block_in_a_turn(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=[{"label": "human", "value": "Name: Ada"}], tools=["memory"])
    assert "memory" in {tool.name for tool in agent.tools}
    fake_llm.script(
        reply.tool_call(
            "memory",
            {
                "command": "create",
                "path": "/memories/projects",
                "description": "What the user works on.",
                "file_text": "Analytical engines.",
            },
        ),
        reply.tool_call(
            "memory",
            {
                "command": "str_replace",
                "path": "/memories/human",
                "old_string": "Ada",
                "new_string": "Ada Lovelace",
            },
        ),
        reply.text("Noted."),
    )

    response = client.agents.messages.create(
        agent.id, messages=[{"role": "user", "content": "I work on analytical engines."}]
    )

    returns = [m for m in response.messages if isinstance(m, ToolReturnMessage)]
    assert [r.status for r in returns] == ["success", "success"]
    projects = client.agents.blocks.retrieve("projects", agent_id=agent.id)
    assert projects.value == "Analytical engines."
    assert projects.description == "What the user works on."
    human = client.agents.blocks.retrieve("human", agent_id=agent.id)
    assert human.value == "Name: Ada Lovelace"
    labels = {block.label for block in client.agents.blocks.list(agent.id).items}
    assert labels == {"human", "projects"}
