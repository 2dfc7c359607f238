"""Agent files through letta-client: export an agent to a .af document and import it back
as a new agent with the same memory and history."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from letta_client import Letta, NotFoundError
from letta_client.types import AgentState
from letta_client.types.agents import AssistantMessage, UserMessage

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply


@pytest.fixture
def agent(client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory) -> AgentState:
    made = make_agent(
        memory_blocks=[{"label": "human", "value": "Name: Ada"}],
        tags=["exported"],
        description="travels well",
    )
    fake_llm.script(reply.text("Nice to meet you, Ada."))
    client.agents.messages.create(made.id, input="hi, I am Ada")
    client.agents.passages.create(made.id, text="Ada's dog is Rex")
    return made


Importer = Callable[..., AgentState]


@pytest.fixture
def import_document(client: Letta) -> Iterator[Importer]:
    """Import an agent file through the SDK; the agents it made are deleted afterwards."""
    made: list[str] = []

    def importer(document: str, **options: Any) -> AgentState:
        imported = client.agents.import_file(
            file=("agent.af", document.encode(), "application/json"), **options
        )
        made.extend(imported.agent_ids)
        assert len(imported.agent_ids) == 1
        return client.agents.retrieve(imported.agent_ids[0])

    yield importer
    for agent_id in made:
        with contextlib.suppress(NotFoundError):
            client.agents.delete(agent_id)


def test_export_answers_the_agent_file_as_a_json_string(client: Letta, agent: AgentState) -> None:
    document = client.agents.export_file(agent.id)

    parsed = json.loads(document)
    assert isinstance(parsed["agents"], list) and len(parsed["agents"]) == 1
    assert {block["label"] for block in parsed["blocks"]} == {"human"}


def test_import_of_an_export_recreates_memory_history_and_passages(
    client: Letta, agent: AgentState, import_document: Importer
) -> None:
    copy = import_document(client.agents.export_file(agent.id))

    assert copy.id != agent.id
    assert copy.name == f"{agent.name}_copy"
    assert copy.description == "travels well"
    assert copy.tags == ["exported"]
    assert {b.label: b.value for b in copy.blocks} == {"human": "Name: Ada"}
    assert {b.id for b in copy.blocks}.isdisjoint({b.id for b in agent.blocks})
    history = client.agents.messages.list(copy.id, order="asc").items
    said = [(type(m), m.content) for m in history if isinstance(m, UserMessage | AssistantMessage)]
    assert said[-2:] == [
        (UserMessage, "hi, I am Ada"),
        (AssistantMessage, "Nice to meet you, Ada."),
    ]
    assert [p.text for p in client.agents.passages.list(copy.id)] == ["Ada's dog is Rex"]


def test_import_can_rename_the_agent_and_drop_its_messages(
    client: Letta, agent: AgentState, import_document: Importer
) -> None:
    copy = import_document(
        client.agents.export_file(agent.id), name="Ada's twin", strip_messages=True
    )

    assert copy.name == "Ada's twin"
    history = client.agents.messages.list(copy.id).items
    assert not [m for m in history if isinstance(m, UserMessage | AssistantMessage)]
