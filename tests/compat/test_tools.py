"""Custom tools through letta-client: create from Python source, upsert, list, retrieve,
update, delete, and attach to or detach from agents."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from letta_client import ConflictError, Letta, NotFoundError, UnprocessableEntityError
from letta_client.types import AgentState, Tool

from tests.compat.conftest import AgentFactory


def dice_source(name: str, biggest: int = 4) -> str:
    return f'''
def {name}(sides: int) -> str:
    """Roll a die.

    Args:
        sides: How many sides the die has.

    Returns:
        The number rolled, as text.
    """
    return str(min(sides, {biggest}))
'''


@pytest.fixture
def tool_name() -> str:
    return f"roll_dice_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def tool(client: Letta, tool_name: str) -> Iterator[Tool]:
    made = client.tools.create(source_code=dice_source(tool_name), tags=["games"])
    yield made
    with contextlib.suppress(NotFoundError):
        client.tools.delete(made.id)


def test_create_derives_the_schema_from_signature_and_docstring(tool: Tool, tool_name: str) -> None:
    assert tool.id.startswith("tool-")
    assert tool.name == tool_name
    assert tool.description == "Roll a die."
    assert tool.tags == ["games"]
    assert tool.json_schema == {
        "name": tool_name,
        "description": "Roll a die.",
        "parameters": {
            "type": "object",
            "properties": {
                "sides": {"type": "integer", "description": "How many sides the die has."}
            },
            "required": ["sides"],
        },
    }


def test_list_and_retrieve_find_the_tool(client: Letta, tool: Tool, tool_name: str) -> None:
    by_name = client.tools.list(name=tool_name).items
    fetched = client.tools.retrieve(tool.id)

    assert [t.id for t in by_name] == [tool.id]
    assert fetched.source_code == tool.source_code


def test_update_changes_the_description_and_tags(client: Letta, tool: Tool) -> None:
    updated = client.tools.update(tool.id, description="Roll one die.", tags=["dice"])

    assert updated.description == "Roll one die."
    assert updated.tags == ["dice"]
    assert client.tools.retrieve(tool.id).description == "Roll one die."


def test_update_sets_the_metadata_letta_client_sends(client: Letta, tool: Tool) -> None:
    # letta-client names the field ``metadata``; Letta's schema calls it ``metadata_``.
    updated = client.tools.update(tool.id, metadata={"owner": "billing"})

    assert updated.metadata == {"owner": "billing"}
    assert client.tools.retrieve(tool.id).metadata == {"owner": "billing"}


def test_upsert_replaces_the_source_of_the_tool_with_that_name(
    client: Letta, tool: Tool, tool_name: str
) -> None:
    replaced = client.tools.upsert(source_code=dice_source(tool_name, biggest=3))

    assert replaced.id == tool.id
    assert "min(sides, 3)" in (replaced.source_code or "")


def test_upsert_creates_a_tool_that_does_not_exist(client: Letta, tool_name: str) -> None:
    created = client.tools.upsert(source_code=dice_source(tool_name))

    assert created.name == tool_name
    client.tools.delete(created.id)


def test_deleted_tool_is_gone(client: Letta, tool: Tool) -> None:
    client.tools.delete(tool.id)

    with pytest.raises(NotFoundError) as caught:
        client.tools.retrieve(tool.id)
    assert tool.id in str(caught.value)


def test_attach_and_detach_change_the_agents_tools(
    client: Letta, make_agent: AgentFactory, tool: Tool
) -> None:
    agent = make_agent()

    attached = client.agents.tools.attach(tool.id, agent_id=agent.id)
    listed = client.agents.tools.list(agent.id).items
    detached = client.agents.tools.detach(tool.id, agent_id=agent.id)

    assert isinstance(attached, AgentState)
    assert tool.id in {t.id for t in attached.tools}
    assert tool.id in {t.id for t in listed}
    assert isinstance(detached, AgentState)
    assert tool.id not in {t.id for t in detached.tools}
    assert tool.id not in {t.id for t in client.agents.tools.list(agent.id).items}


def test_source_without_a_function_raises_unprocessable_naming_source_code(
    client: Letta,
) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        client.tools.create(source_code="x = 1")

    assert "source_code" in str(caught.value)


def test_creating_a_taken_name_raises_conflict_naming_the_tool(
    client: Letta, tool: Tool, tool_name: str
) -> None:
    with pytest.raises(ConflictError) as caught:
        client.tools.create(source_code=dice_source(tool_name))

    assert tool_name in str(caught.value)


def test_agent_tools_auto_pagination_ends(client: Letta, make_agent: AgentFactory) -> None:
    agent = make_agent()

    names = [t.name for t in itertools.islice(client.agents.tools.list(agent.id), 50)]

    assert len(names) == len(set(names)) == len(agent.tools)


def test_an_agents_tool_variables_reach_its_tool_and_nothing_else_does(
    client: Letta, make_agent: AgentFactory
) -> None:
    name = f"read_env_{uuid.uuid4().hex[:8]}"
    source = f'''
def {name}() -> dict:
    """The variables this tool can see."""
    import os
    return {{key: os.environ.get(key) for key in ("WEATHER_KEY", "UNITS", "OPENAI_API_KEY")}}
'''
    tool = client.tools.create(source_code=source)
    try:
        agent = make_agent(
            tool_ids=[tool.id],
            tool_exec_environment_variables={"WEATHER_KEY": "k-1"},
            secrets={"UNITS": "metric"},
        )

        ran = client.agents.tools.run(name, agent_id=agent.id, args={})

        assert ran.status == "success", ran
        assert ran.func_return == {"WEATHER_KEY": "k-1", "UNITS": "metric", "OPENAI_API_KEY": None}
        shown = {v.key: v.value for v in agent.tool_exec_environment_variables or []}
        assert shown == {"WEATHER_KEY": "k-1", "UNITS": "metric"}
    finally:
        client.tools.delete(tool.id)


SIX_VERSION = '''
def six_version() -> str:
    """The version of the six package this run asked for."""
    import six
    return six.__version__
'''


def test_a_run_from_source_installs_its_pip_requirements(client: Letta) -> None:
    # letta-client 1.12.1 has no method for POST /v1/tools/run; its generic post reaches it.
    ran = client.post(
        "/v1/tools/run",
        cast_to=dict[str, Any],
        body={
            "source_code": SIX_VERSION,
            "args": {},
            "pip_requirements": [{"name": "six", "version": "1.16.0"}],
        },
    )

    assert ran["status"] == "success", ran
    assert ran["tool_return"] == "1.16.0"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"npm_requirements": [{"name": "left-pad"}]}, "npm_requirements"),
        ({"pip_requirements": [{"name": "--index-url=http://evil"}]}, "pip_requirements"),
    ],
)
def test_a_run_from_source_refuses_requirements_it_cannot_install(
    client: Letta, extra: dict[str, Any], field: str
) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        client.post(
            "/v1/tools/run",
            cast_to=dict[str, Any],
            body={"source_code": SIX_VERSION, "args": {}, **extra},
        )

    assert field in str(caught.value)
