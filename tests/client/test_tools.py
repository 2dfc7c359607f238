"""``client.tools`` and ``client.agents.tools`` in-process: custom tools from source, run
in the sandbox, attached to an agent; the same shapes as the REST API, the same errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from engram import Engram
from engram.errors import Conflict, InvalidInput, NotFound
from tests.client.conftest import MODEL

MISSING_TOOL = "tool-00000000-0000-4000-8000-000000000000"


def unique_name(stem: str) -> str:
    return f"{stem}_{uuid.uuid4().hex[:8]}"


def weather(name: str, summary: str = "Today's weather.") -> str:
    return f'''
def {name}(city: str) -> dict:
    """{summary}

    Args:
        city: The city to look up.
    """
    import os
    return {{"city": city, "temp_c": 21, "key": os.environ.get("WEATHER_KEY")}}
'''


def make_agent(
    client: Engram,
    *,
    name: str,
    tool_ids: list[str] | None = None,
    tool_exec_environment_variables: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An agent to carry tools, as the REST API shows it."""
    if hasattr(client.agents, "create"):
        agent = client.agents.create(
            model=MODEL,
            name=name,
            tool_ids=tool_ids or [],
            tool_exec_environment_variables=tool_exec_environment_variables,
        )
        return dict(agent.model_dump())
    # Until client.agents.create exists: the agents op its route calls, on the client's loop.
    from engram.api import serialize
    from engram.ops.agents import AgentSpec, create_agent

    spec = AgentSpec(
        model=MODEL, name=name, tool_ids=tool_ids or [], tool_env=tool_exec_environment_variables
    )
    return serialize.agent(client._portal.call(create_agent(client._services, spec)))


def rest(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def without(shape: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in shape.items() if key not in names}


def test_a_tool_from_source_has_the_rest_shape_through_its_whole_life(
    engram_client: Engram, api: httpx.Client
) -> None:
    name = unique_name("weather")
    over_rest = rest(api.post("/v1/tools/", json={"source_code": weather(name), "tags": ["w"]}))
    try:
        created = engram_client.tools.create(source_code=weather(name), tags=["w"])

        assert created.name == name and created.tool_type == "custom"
        assert without(created.model_dump(), "id") == without(over_rest, "id")
        assert engram_client.tools.retrieve(created.id) == created
        assert [tool.id for tool in engram_client.tools.list(name=name)] == [created.id]

        changed = engram_client.tools.update(
            created.id, description="Sunny or not.", metadata={"team": "ops"}
        )
        changed_over_rest = rest(
            api.patch(
                f"/v1/tools/{over_rest['id']}",
                json={"description": "Sunny or not.", "metadata_": {"team": "ops"}},
            )
        )
        assert without(changed.model_dump(), "id") == without(changed_over_rest, "id")

        replaced = engram_client.tools.upsert(source_code=weather(name, "Rain or shine."))
        assert replaced.id == created.id and replaced.json_schema is not None
        assert replaced.json_schema["description"] == "Rain or shine."

        deleted = engram_client.tools.delete(created.id)
        deleted_over_rest = rest(api.delete(f"/v1/tools/{over_rest['id']}"))
        assert deleted == {"message": f"tool '{created.id}' deleted"}
        assert set(deleted) == set(deleted_over_rest)
        with pytest.raises(NotFound):
            engram_client.tools.retrieve(created.id)
    finally:
        api.delete(f"/v1/tools/{over_rest['id']}")  # gone already unless a check failed


def test_listing_filters_and_pages_as_the_rest_api_does(engram_client: Engram) -> None:
    names = [unique_name("pager") for _ in range(3)]
    ids = [engram_client.tools.create(source_code=weather(name)).id for name in names]

    newest_first = engram_client.tools.list(names=names)
    oldest_first = engram_client.tools.list(names=names, order="asc", limit=2)
    after = engram_client.tools.list(names=names, order="asc", after=ids[0])

    assert [tool.id for tool in newest_first] == ids[::-1]
    assert [tool.id for tool in oldest_first] == ids[:2]
    assert [tool.id for tool in after] == ids[1:]
    built_in = engram_client.tools.list(return_only_letta_tools=True, limit=1000)
    assert built_in and all(tool.tool_type != "custom" for tool in built_in)


@pytest.mark.parametrize(
    ("fields", "field", "rest_field"),
    [
        ({"source_code": ""}, "source_code", "source_code"),
        ({"source_code": "def broken(:\n    pass"}, "source_code", "source_code"),
        ({"source_type": "javascript"}, "source_type", "source_type"),
        ({"pip_requirements": [{"name": "--index-url"}]}, "pip_requirements.0.name", "name"),
        ({"npm_requirements": [{"name": "left-pad"}]}, "npm_requirements", "npm_requirements"),
        ({"return_char_limit": 0}, "return_char_limit", "return_char_limit"),
        ({"json_schema": {"parameters": {}}}, "json_schema", "json_schema"),
    ],
    ids=["empty", "syntax", "language", "pip-option", "npm", "limit", "schema-name"],
)
def test_a_bad_tool_is_refused_naming_the_field_as_over_rest(
    engram_client: Engram,
    api: httpx.Client,
    fields: dict[str, Any],
    field: str,
    rest_field: str,
) -> None:
    name = unique_name("bad")
    body = {"source_code": weather(name), **fields}

    with pytest.raises(InvalidInput) as refused:
        engram_client.tools.create(**body)
    over_rest = api.post("/v1/tools/", json=body)

    assert refused.value.field == field
    assert over_rest.status_code == 422
    detail = over_rest.json()["detail"]
    named = detail[0]["loc"][-1] if isinstance(detail, list) else detail.split(":", 1)[0]
    assert named == rest_field
    assert engram_client.tools.list(name=name) == []


def test_changing_a_tool_checks_as_the_rest_api_does(engram_client: Engram) -> None:
    first = engram_client.tools.create(source_code=weather(unique_name("first")))
    second = engram_client.tools.create(source_code=weather(unique_name("second")))
    built_in = engram_client.tools.list(name="archival_memory_search")[0]

    with pytest.raises(Conflict):
        engram_client.tools.create(source_code=weather(first.name))
    with pytest.raises(Conflict):
        engram_client.tools.update(second.id, source_code=weather(first.name))
    with pytest.raises(Conflict):
        engram_client.tools.delete(built_in.id)
    with pytest.raises(InvalidInput) as too_short:
        engram_client.tools.update(first.id, return_char_limit=0)
    with pytest.raises(InvalidInput) as bad_page:
        engram_client.tools.list(limit=0)
    with pytest.raises(NotFound):
        engram_client.tools.update(MISSING_TOOL, description="x")

    assert too_short.value.field == "return_char_limit"
    assert bad_page.value.field == "limit"
    assert engram_client.tools.retrieve(second.id) == second
    assert engram_client.tools.retrieve(first.id) == first


def test_unsaved_source_runs_in_the_sandbox_as_over_rest(
    engram_client: Engram, api: httpx.Client
) -> None:
    body = {
        "source_code": weather("forecast"),
        "args": {"city": "Oslo"},
        "env_vars": {"WEATHER_KEY": "v"},
    }

    message = engram_client.tools.run_tool_from_source(**body)
    over_rest = rest(api.post("/v1/tools/run", json=body))

    assert message.status == "success" and message.message_type == "tool_return_message"
    assert json.loads(message.tool_return) == {"city": "Oslo", "temp_c": 21, "key": "v"}
    assert set(message.model_dump()) == set(over_rest)
    assert without(message.model_dump(), "id", "date", "tool_call_id") == without(
        over_rest, "id", "date", "tool_call_id"
    )
    with pytest.raises(InvalidInput) as unnamed:
        engram_client.tools.run_tool_from_source(source_code=weather("x"), name="no such")
    assert unnamed.value.field == "name"


def test_an_agent_carries_runs_and_drops_a_custom_tool(
    engram_client: Engram, api: httpx.Client
) -> None:
    tool = engram_client.tools.create(source_code=weather(unique_name("weather")))
    agent = make_agent(
        engram_client,
        name=unique_name("carrier"),
        tool_exec_environment_variables={"WEATHER_KEY": "k"},
    )

    attached = engram_client.agents.tools.attach(tool.id, agent_id=agent["id"])
    listed = engram_client.agents.tools.list(agent["id"])
    ran = engram_client.agents.tools.run(tool.name, agent_id=agent["id"], args={"city": "Rome"})

    assert tool.name in {carried.name for carried in attached.tools}
    assert tool.id in {carried.id for carried in listed}
    assert set(attached.model_dump()) == set(agent)
    assert ran.status == "success"
    assert ran.func_return == {"city": "Rome", "temp_c": 21, "key": "k"}
    assert set(ran.model_dump()) == {
        "status", "func_return", "agent_state", "stdout", "stderr", "sandbox_config_fingerprint"
    }  # fmt: skip
    with pytest.raises(NotFound):
        engram_client.agents.tools.run("nope", agent_id=agent["id"], args={})
    with pytest.raises(Conflict):
        engram_client.agents.tools.run("archival_memory_search", agent_id=agent["id"])

    detached = engram_client.agents.tools.detach(tool.id, agent_id=agent["id"])
    assert tool.id not in {carried.id for carried in detached.tools}
    assert tool.id not in {t.id for t in engram_client.agents.tools.list(agent["id"])}
    with pytest.raises(NotFound):
        engram_client.agents.tools.attach(MISSING_TOOL, agent_id=agent["id"])


def test_a_tools_calls_can_be_made_to_wait_for_approval(engram_client: Engram) -> None:
    tool = engram_client.tools.create(source_code=weather(unique_name("careful")))
    agent = make_agent(engram_client, name=unique_name("careful"), tool_ids=[tool.id])

    required = engram_client.agents.tools.update_approval(
        tool.name, agent_id=agent["id"], body_requires_approval=True
    )
    lifted = engram_client.agents.tools.update_approval(
        tool.name, agent_id=agent["id"], body_requires_approval=False
    )

    rule = {"tool_name": tool.name, "type": "requires_approval"}
    assert any(rule.items() <= r.items() for r in required.model_dump()["tool_rules"])
    assert not any(rule.items() <= r.items() for r in lifted.model_dump()["tool_rules"] or [])
    with pytest.raises(NotFound):
        engram_client.agents.tools.update_approval(
            "nope", agent_id=agent["id"], body_requires_approval=True
        )
