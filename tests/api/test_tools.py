"""/v1/tools over HTTP: custom tools from source, listing, changes, and agent attachment."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, detail_text, error_fields
from tests.fakes import FakeLLM, reply

TOOL_FIELDS = {
    "id", "tool_type", "description", "source_type", "name", "tags", "source_code",
    "json_schema", "args_json_schema", "return_char_limit", "pip_requirements",
    "npm_requirements", "default_requires_approval", "enable_parallel_execution",
    "created_by_id", "last_updated_by_id", "metadata_", "project_id",
}  # fmt: skip
MISSING_TOOL = "tool-00000000-0000-4000-8000-000000000000"
MISSING_AGENT = "agent-00000000-0000-4000-8000-000000000000"


def unique_name(stem: str) -> str:
    return f"{stem}_{uuid.uuid4().hex[:8]}"


def source(name: str, summary: str = "Look up the weather for a city.") -> str:
    return f'''
from typing import Literal


def {name}(city: str, days: int = 1, unit: Literal["c", "f"] = "c") -> str:
    """{summary}

    Args:
        city: Name of the city.
        days: How many days ahead.
        unit: Temperature unit.
    """
    return f"sunny in {{city}}"
'''


@pytest.fixture
def make_tool(api: httpx.Client) -> Any:
    """Create custom tools; the ones still alive are deleted afterwards."""
    created: list[str] = []

    def factory(name: str | None = None, **fields: Any) -> dict[str, Any]:
        name = name or unique_name("weather")
        body = {"source_code": source(name), **fields}
        response = api.post("/v1/tools/", json=body)
        assert response.status_code == 200, response.text
        created.append(response.json()["id"])
        return response.json()

    yield factory
    for tool_id in created:
        api.delete(f"/v1/tools/{tool_id}")


def all_tools(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/v1/tools/", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()


# --------------------------------------------------------------------------- create


def test_created_tool_has_the_schema_of_its_function(api: httpx.Client, make_tool: Any) -> None:
    name = unique_name("weather")
    tool = make_tool(name, tags=["weather"], pip_requirements=[{"name": "requests"}])

    assert set(tool) >= TOOL_FIELDS, TOOL_FIELDS - set(tool)
    assert tool["id"].startswith("tool-")
    assert tool["tool_type"] == "custom"
    assert tool["name"] == name
    assert tool["description"] == "Look up the weather for a city."
    assert tool["tags"] == ["weather"]
    assert tool["pip_requirements"] == [{"name": "requests", "version": None}]
    assert tool["json_schema"] == {
        "name": name,
        "description": "Look up the weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "Name of the city."},
                "days": {"type": "integer", "description": "How many days ahead.", "default": 1},
                "unit": {
                    "type": "string",
                    "enum": ["c", "f"],
                    "description": "Temperature unit.",
                    "default": "c",
                },
            },
            "required": ["city"],
        },
    }
    assert api.get(f"/v1/tools/{tool['id']}").json() == tool


def test_explicit_json_schema_is_kept(api: httpx.Client, make_tool: Any) -> None:
    name = unique_name("weather")
    schema = {
        "name": name,
        "description": "Hand-written.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    tool = make_tool(name, json_schema=schema, description="Shown to people.")

    assert tool["json_schema"]["description"] == "Hand-written."
    assert tool["json_schema"]["parameters"]["properties"] == {"city": {"type": "string"}}
    assert tool["description"] == "Shown to people."


def test_second_tool_with_the_same_name_is_a_conflict(api: httpx.Client, make_tool: Any) -> None:
    tool = make_tool()
    before = len(all_tools(api))

    response = api.post("/v1/tools/", json={"source_code": source(tool["name"])})

    assert response.status_code == 409
    assert tool["name"] in detail_text(response)
    assert len(all_tools(api)) == before


@pytest.mark.parametrize(
    ("body", "field", "mentioned"),
    [
        ({"source_code": "def broken(x: int)\n    return x\n"}, "source_code", "line 1"),
        ({"source_code": "x = 1\n"}, "source_code", "no function"),
        ({"source_code": "def f(city, days: int):\n    pass\n"}, "source_code", "'city'"),
        ({"source_code": "def f(when: datetime):\n    pass\n"}, "source_code", "datetime"),
        ({"source_code": "def f(x: int): pass", "source_type": "js"}, "source_type", "js"),
        ({"source_code": "def f(x: int): pass", "json_schema": {}}, "json_schema", "name"),
        (
            {"source_code": "def f(x: int): pass", "json_schema": {"name": "g"}},
            "source_code",
            "'g'",
        ),
        ({"source_code": ""}, "source_code", ""),
        ({"source_code": "def f(x: int): pass", "return_char_limit": 0}, "return_char_limit", ""),
        ({"description": "no source"}, "source_code", ""),
        (
            {"source_code": "def f(x: int): pass", "npm_requirements": [{"name": "lodash"}]},
            "npm_requirements",
            "pip_requirements",
        ),
    ],
)
def test_bad_tool_source_is_422_naming_the_problem_and_creates_nothing(
    api: httpx.Client, body: dict[str, Any], field: str, mentioned: str
) -> None:
    before = len(all_tools(api))

    response = api.post("/v1/tools/", json=body)

    assert response.status_code == 422, response.text
    assert field in error_fields(response)
    assert mentioned in detail_text(response)
    assert len(all_tools(api)) == before


def test_upsert_creates_then_replaces_by_name(api: httpx.Client) -> None:
    name = unique_name("weather")
    first = api.put("/v1/tools/", json={"source_code": source(name, "First version.")})
    assert first.status_code == 200, first.text

    second = api.put("/v1/tools/", json={"source_code": source(name, "Second version.")})

    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["description"] == "Second version."
    assert [t["id"] for t in all_tools(api, name=name)] == [first.json()["id"]]
    api.delete(f"/v1/tools/{first.json()['id']}")


def test_upsert_cannot_replace_a_built_in_tool(api: httpx.Client) -> None:
    builtin = all_tools(api, name="send_message")[0]
    code = 'def send_message(message: str) -> str:\n    """Hijack."""\n    return ""\n'

    response = api.put("/v1/tools/", json={"source_code": code})

    assert response.status_code == 409
    assert "built in" in detail_text(response)
    assert api.get(f"/v1/tools/{builtin['id']}").json() == builtin


# --------------------------------------------------------------------------- list & get


def test_list_filters_by_name_ids_search_and_type(api: httpx.Client, make_tool: Any) -> None:
    stem = unique_name("lister")
    one, two = make_tool(f"{stem}_one"), make_tool(f"{stem}_two")

    assert [t["id"] for t in all_tools(api, name=one["name"])] == [one["id"]]
    named = all_tools(api, names=[one["name"], two["name"]])
    assert {t["id"] for t in named} == {one["id"], two["id"]}
    assert [t["id"] for t in all_tools(api, tool_ids=[two["id"]])] == [two["id"]]
    assert {t["id"] for t in all_tools(api, search=stem.upper())} == {one["id"], two["id"]}
    custom = all_tools(api, tool_types=["custom"])
    assert {one["id"], two["id"]} <= {t["id"] for t in custom}
    assert all(t["tool_type"] == "custom" for t in custom)
    letta = all_tools(api, exclude_tool_types=["custom"])
    assert letta and all(t["tool_type"] != "custom" for t in letta)
    assert {t["id"] for t in all_tools(api, return_only_letta_tools=True)} == {
        t["id"] for t in letta
    }


def test_list_pages_by_cursor_newest_first(api: httpx.Client, make_tool: Any) -> None:
    stem = unique_name("pager")
    made = [make_tool(f"{stem}_{i}") for i in range(3)]
    ids = [t["id"] for t in made]

    newest_first = [t["id"] for t in all_tools(api, search=stem)]
    assert newest_first == ids[::-1]
    page = api.get("/v1/tools/", params={"search": stem, "limit": 1, "after": ids[2]}).json()
    assert [t["id"] for t in page] == [ids[1]]
    oldest = api.get("/v1/tools/", params={"search": stem, "order": "asc", "limit": 2}).json()
    assert [t["id"] for t in oldest] == ids[:2]


def test_unknown_tool_is_404_naming_it(api: httpx.Client) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: dict[str, Any] = {"json": {"description": "x"}} if method == "PATCH" else {}
        response = api.request(method, f"/v1/tools/{MISSING_TOOL}", **kwargs)
        assert response.status_code == 404, (method, response.text)
        assert MISSING_TOOL in detail_text(response)


# --------------------------------------------------------------------------- modify & delete


def test_modify_changes_only_the_given_fields(api: httpx.Client, make_tool: Any) -> None:
    tool = make_tool()

    response = api.patch(
        f"/v1/tools/{tool['id']}",
        json={"description": "Better words.", "tags": ["a", "b"], "return_char_limit": 900},
    )

    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["description"] == "Better words."
    assert changed["tags"] == ["a", "b"]
    assert changed["return_char_limit"] == 900
    assert changed["json_schema"] == tool["json_schema"]
    assert changed["source_code"] == tool["source_code"]


def test_new_source_gives_a_new_schema_and_name(api: httpx.Client, make_tool: Any) -> None:
    tool = make_tool()
    renamed = unique_name("forecast")
    code = f'def {renamed}(city: str, hours: int) -> str:\n    """Hourly forecast."""\n'

    response = api.patch(f"/v1/tools/{tool['id']}", json={"source_code": code})

    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["name"] == renamed
    assert changed["json_schema"]["parameters"]["required"] == ["city", "hours"]
    assert changed["json_schema"]["description"] == "Hourly forecast."


def test_bad_new_source_is_422_and_changes_nothing(api: httpx.Client, make_tool: Any) -> None:
    tool = make_tool()

    response = api.patch(
        f"/v1/tools/{tool['id']}",
        json={"source_code": "def f(x):\n    pass\n", "description": "never applied"},
    )

    assert response.status_code == 422
    assert "source_code" in error_fields(response)
    assert api.get(f"/v1/tools/{tool['id']}").json() == tool


def test_javascript_packages_are_refused_on_modify(api: httpx.Client, make_tool: Any) -> None:
    tool = make_tool()

    response = api.patch(f"/v1/tools/{tool['id']}", json={"npm_requirements": [{"name": "x"}]})

    assert response.status_code == 422
    assert "npm_requirements" in error_fields(response)
    assert api.get(f"/v1/tools/{tool['id']}").json() == tool


def test_renaming_onto_another_tool_is_a_conflict(api: httpx.Client, make_tool: Any) -> None:
    first, second = make_tool(), make_tool()

    response = api.patch(f"/v1/tools/{second['id']}", json={"source_code": source(first["name"])})

    assert response.status_code == 409
    assert api.get(f"/v1/tools/{second['id']}").json() == second


def test_built_in_tools_cannot_be_modified_or_deleted(api: httpx.Client) -> None:
    builtin = all_tools(api, name="archival_memory_insert")[0]

    patched = api.patch(f"/v1/tools/{builtin['id']}", json={"description": "mine now"})
    deleted = api.delete(f"/v1/tools/{builtin['id']}")

    assert patched.status_code == 409
    assert deleted.status_code == 409
    assert "built in" in detail_text(deleted)
    assert api.get(f"/v1/tools/{builtin['id']}").json() == builtin


def test_deleted_tool_is_gone_and_detached_from_agents(
    api: httpx.Client, make_tool: Any, make_agent: AgentFactory
) -> None:
    tool = make_tool()
    agent = make_agent(tool_ids=[tool["id"]])
    assert tool["id"] in [t["id"] for t in agent["tools"]]

    assert api.delete(f"/v1/tools/{tool['id']}").status_code == 200

    assert api.get(f"/v1/tools/{tool['id']}").status_code == 404
    tools_now = api.get(f"/v1/agents/{agent['id']}/tools").json()
    assert tool["id"] not in [t["id"] for t in tools_now]


# --------------------------------------------------------------------------- agents


def test_attach_and_detach_return_the_agent(
    api: httpx.Client, make_tool: Any, make_agent: AgentFactory
) -> None:
    tool = make_tool()
    agent = make_agent()

    attached = api.patch(f"/v1/agents/{agent['id']}/tools/attach/{tool['id']}")
    again = api.patch(f"/v1/agents/{agent['id']}/tools/attach/{tool['id']}")

    assert attached.status_code == 200, attached.text
    assert attached.json()["id"] == agent["id"]
    names = [t["name"] for t in again.json()["tools"]]
    assert names.count(tool["name"]) == 1
    listed = api.get(f"/v1/agents/{agent['id']}/tools").json()
    assert tool["id"] in [t["id"] for t in listed]

    detached = api.patch(f"/v1/agents/{agent['id']}/tools/detach/{tool['id']}")

    assert detached.status_code == 200
    assert tool["id"] not in [t["id"] for t in detached.json()["tools"]]
    assert len(detached.json()["tools"]) == len(agent["tools"])


@pytest.mark.parametrize("action", ["attach", "detach"])
def test_attach_or_detach_unknown_ids_is_404(
    api: httpx.Client, make_tool: Any, make_agent: AgentFactory, action: str
) -> None:
    tool = make_tool()
    agent = make_agent()

    no_tool = api.patch(f"/v1/agents/{agent['id']}/tools/{action}/{MISSING_TOOL}")
    no_agent = api.patch(f"/v1/agents/{MISSING_AGENT}/tools/{action}/{tool['id']}")

    assert no_tool.status_code == 404 and MISSING_TOOL in detail_text(no_tool)
    assert no_agent.status_code == 404 and MISSING_AGENT in detail_text(no_agent)
    assert api.get(f"/v1/agents/{agent['id']}").json()["tools"] == agent["tools"]


def test_model_sees_an_attached_tool_and_calling_it_runs_the_tool(
    api: httpx.Client, fake_llm: FakeLLM, make_tool: Any, make_agent: AgentFactory
) -> None:
    tool = make_tool()
    agent = make_agent()
    api.patch(f"/v1/agents/{agent['id']}/tools/attach/{tool['id']}").raise_for_status()
    fake_llm.script(reply.tool_call(tool["name"], {"city": "Oslo"}), reply.text("No luck."))

    response = api.post(f"/v1/agents/{agent['id']}/messages", json={"input": "weather?"})

    assert response.status_code == 200, response.text
    first = fake_llm.chat_requests[0]
    assert first.tool_schema(tool["name"]) == tool["json_schema"]["parameters"]
    returned = [
        m for m in response.json()["messages"] if m["message_type"] == "tool_return_message"
    ]
    assert returned[0]["status"] == "success"
    assert returned[0]["tool_return"] == "sunny in Oslo"
    assert fake_llm.chat_requests[-1].tool_results[-1] == "sunny in Oslo"
