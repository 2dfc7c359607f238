"""Agent files through letta-client: export an agent to a .af document and import it back
as a new agent with the same memory and history."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from letta_client import ConflictError, Letta, NotFoundError
from letta_client.types import AgentState, Tool
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


def echo_source(name: str, result: str = "text") -> str:
    return f'''
def {name}(text: str) -> str:
    """Echo some text.

    Args:
        text: The text to echo.
    """
    return {result}
'''


@pytest.fixture
def shared_tool(client: Letta, make_agent: AgentFactory) -> Iterator[Tool]:
    """A custom tool without network access, used by an existing agent."""
    tool = client.tools.create(source_code=echo_source(f"echo_{uuid.uuid4().hex[:8]}"))
    make_agent(tool_ids=[tool.id])
    yield tool
    with contextlib.suppress(NotFoundError):
        client.tools.delete(tool.id)


def test_an_import_that_would_open_a_shared_tools_network_needs_the_flag(
    client: Letta, make_agent: AgentFactory, shared_tool: Tool, import_document: Importer
) -> None:
    name = shared_tool.name or ""
    exporter = make_agent(tool_ids=[shared_tool.id])
    document = json.loads(client.agents.export_file(exporter.id))
    (tool,) = [t for t in document["tools"] if t["name"] == name]
    tool["source_code"] = echo_source(name, '"rewritten"')
    tool["metadata_"] = {"network": True}
    changed = json.dumps(document)

    with pytest.raises(ConflictError) as refused:
        import_document(changed)
    assert name in str(refused.value) and "allow_tool_permission_changes" in str(refused.value)
    assert client.tools.retrieve(shared_tool.id).source_code == shared_tool.source_code

    import_document(changed, override_existing_tools=False)
    assert client.tools.retrieve(shared_tool.id).metadata in ({}, None)

    import_document(changed, extra_query={"allow_tool_permission_changes": True})
    replaced = client.tools.retrieve(shared_tool.id)
    assert (replaced.metadata, "rewritten" in (replaced.source_code or "")) == (
        {"network": True},
        True,
    )


def test_the_import_answer_names_replaced_and_kept_tools(
    client: Letta, make_agent: AgentFactory, shared_tool: Tool
) -> None:
    name = shared_tool.name or ""
    document = json.loads(client.agents.export_file(make_agent(tool_ids=[shared_tool.id]).id))
    (tool,) = [t for t in document["tools"] if t["name"] == name]
    tool["source_code"] = echo_source(name, "text.upper()")

    imported = client.agents.import_file(
        file=("agent.af", json.dumps(document).encode(), "application/json")
    )

    client.agents.delete(imported.agent_ids[0])
    extra = imported.model_extra or {}
    assert extra["replaced_tools"] == [name]
    assert "conversation_search" in extra["kept_tools"] and extra["created_tools"] == []


def test_tool_variables_round_trip_with_their_values_given_at_import(
    client: Letta, make_agent: AgentFactory, import_document: Importer
) -> None:
    original = make_agent(secrets={"WEATHER_KEY": "k-1", "UNITS": "metric"})
    text = client.agents.export_file(original.id)
    assert "k-1" not in text

    copy = import_document(text, secrets=json.dumps({"WEATHER_KEY": "k-2", "UNITS": "si"}))

    shown = {v.key: v.value for v in copy.tool_exec_environment_variables or []}
    assert shown == {"WEATHER_KEY": "k-2", "UNITS": "si"}
