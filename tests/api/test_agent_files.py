"""Agent files over HTTP: an exported agent imports as a new agent that remembers, answers
and searches as the original did; bad files are refused whole with a 422."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from letta_client import Letta
from sqlalchemy import create_engine, text

from engram.config import normalize_database_url
from engram.ops.agent_file.importing import INSERT_BATCH_ROWS
from tests.api.conftest import (
    MODEL,
    AgentFactory,
    agent_count,
    block_count,
    core_memory,
    create_tool,
    detail_text,
    list_all,
)
from tests.fakes import FakeLLM, reply
from tests.helpers import conversation as history
from tests.helpers import send
from tests.support.server import EngramServer

CAT_FACT = "The user's cat is called Miso and is afraid of vacuum cleaners."


def export(api: httpx.Client, agent_id: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/v1/agents/{agent_id}/export", params=params)
    assert response.status_code == 200, response.text
    return json.loads(response.text)


def import_file(api: httpx.Client, document: Any, **form: Any) -> httpx.Response:
    content = document if isinstance(document, bytes) else json.dumps(document).encode()
    data = {
        key: str(value).lower() if isinstance(value, bool) else value for key, value in form.items()
    }
    return api.post(
        "/v1/agents/import",
        files={"file": ("agent.af", content, "application/json")},
        data=data,
    )


def imported_id(api: httpx.Client, document: Any, **form: Any) -> str:
    response = import_file(api, document, **form)
    assert response.status_code == 200, response.text
    ids = response.json()["agent_ids"]
    assert len(ids) == 1
    return ids[0]


def get_agent(api: httpx.Client, agent_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/agents/{agent_id}")
    assert response.status_code == 200, response.text
    return response.json()


def context(api: httpx.Client, agent_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/agents/{agent_id}/context")
    assert response.status_code == 200, response.text
    return response.json()


def passages(api: httpx.Client, agent_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/agents/{agent_id}/archival-memory", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()


def without_ids(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a user sees of each message, minus what an import must renew."""
    renewed = {"id", "run_id", "step_id"}
    return [{k: v for k, v in m.items() if k not in renewed} for m in messages]


@pytest.fixture
def conversed(api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory) -> dict[str, Any]:
    """An agent that saved a fact to archival memory and edited a block while talking."""
    agent = make_agent(
        name="miso-keeper",
        description="remembers pets",
        metadata={"team": "pets"},
        tags=["pets", "export"],
        memory_blocks=[
            {"label": "persona", "value": "I remember pets."},
            {"label": "human", "value": "Name: Ada", "limit": 500, "description": "the user"},
        ],
    )
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": CAT_FACT, "tags": ["pets"]}),
        reply.text("I'll remember Miso.", reasoning="Worth saving."),
        reply.tool_call("core_memory_append", {"label": "human", "content": "Owns a cat."}),
        reply.text("Noted that you own a cat."),
    )
    send(api, agent["id"], "My cat is called Miso and hates the vacuum.")
    send(api, agent["id"], "Please remember that I own a cat.")
    fake_llm.assert_script_consumed()
    return get_agent(api, agent["id"])


# --------------------------------------------------------------------------- round trip


def test_exported_agent_imports_as_a_new_agent_with_the_same_memory_and_history(
    api: httpx.Client, fake_llm: FakeLLM, conversed: dict[str, Any]
) -> None:
    old_id = conversed["id"]
    old_history = history(api, old_id)
    old_passages = passages(api, old_id)
    old_context = context(api, old_id)
    document = export(api, old_id)
    assert api.delete(f"/v1/agents/{old_id}").status_code == 200

    new_id = imported_id(api, document)

    agent = get_agent(api, new_id)
    assert new_id != old_id and new_id.startswith("agent-")
    assert agent["name"] == "miso-keeper_copy"
    for same in ("description", "metadata", "system", "agent_type", "llm_config", "tags"):
        assert agent[same] == conversed[same], same
    assert {b["label"]: b["value"] for b in agent["blocks"]} == {
        "persona": "I remember pets.",
        "human": "Name: Ada\nOwns a cat.",
    }
    assert {b["id"] for b in agent["blocks"]}.isdisjoint({b["id"] for b in conversed["blocks"]})
    assert [b["limit"] for b in agent["blocks"]] == [b["limit"] for b in conversed["blocks"]]
    assert sorted(t["name"] for t in agent["tools"]) == sorted(
        t["name"] for t in conversed["tools"]
    )
    new_history = history(api, new_id)
    assert without_ids(new_history) == without_ids(old_history)
    assert {m["id"] for m in new_history}.isdisjoint({m["id"] for m in old_history})
    new_passages = passages(api, new_id)
    assert [(p["text"], p["tags"], p["created_at"]) for p in new_passages] == [
        (p["text"], p["tags"], p["created_at"]) for p in old_passages
    ]
    new_context = context(api, new_id)
    for same in ("num_messages", "num_recall_memory", "num_archival_memory", "system_prompt"):
        assert new_context[same] == old_context[same], same
    assert new_context["num_tokens_messages"] == old_context["num_tokens_messages"]


def test_imported_agent_answers_from_its_restored_window_and_finds_its_passage(
    api: httpx.Client, fake_llm: FakeLLM, conversed: dict[str, Any]
) -> None:
    new_id = imported_id(api, export(api, conversed["id"]))
    fake_llm.script(
        reply.tool_call("archival_memory_search", {"query": "what is the cat called"}),
        reply.text("Your cat is Miso."),
    )

    body = send(api, new_id, "What is my cat called?")

    assert body["messages"][-1]["content"] == "Your cat is Miso."
    first, second = fake_llm.chat_requests[-2:]
    assert "My cat is called Miso and hates the vacuum." in first.user_texts
    assert "Name: Ada\nOwns a cat." in first.system_text
    assert CAT_FACT in second.tool_results[-1]
    search = api.get(
        f"/v1/agents/{new_id}/archival-memory/search", params={"query": "vacuum cleaners"}
    )
    assert search.status_code == 200, search.text
    assert [r["content"] for r in search.json()["results"]] == [CAT_FACT]


def test_window_and_summary_survive_a_fold(
    api: httpx.Client, fake_llm: FakeLLM, conversed: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("Ada owns a cat called Miso."))
    folded = api.post(f"/v1/agents/{conversed['id']}/summarize")
    assert folded.status_code == 200, folded.text
    old_context = context(api, conversed["id"])
    assert 0 < old_context["num_messages"] < old_context["num_recall_memory"]

    new_id = imported_id(api, export(api, conversed["id"]))

    new_context = context(api, new_id)
    for same in ("num_messages", "num_recall_memory", "summary_memory", "num_tokens_messages"):
        assert new_context[same] == old_context[same], same
    assert without_ids(new_context["messages"]) == without_ids(old_context["messages"])


def test_export_is_a_letta_agent_file(api: httpx.Client, conversed: dict[str, Any]) -> None:
    document = export(api, conversed["id"])

    assert set(document) >= {
        "agents", "groups", "blocks", "files", "sources", "tools", "mcp_servers", "metadata",
        "created_at",
    }  # fmt: skip
    (agent,) = document["agents"]
    assert agent["id"] == "agent-0"
    assert set(agent["block_ids"]) == {b["id"] for b in document["blocks"]}
    assert set(agent["tool_ids"]) == {t["id"] for t in document["tools"]}
    assert all(b["id"].startswith("block-") for b in document["blocks"])
    first = agent["messages"][0]
    assert first["role"] == "system" and first["content"][0]["text"].startswith(conversed["system"])
    assert agent["in_context_message_ids"][0] == first["id"]
    roles = [m["role"] for m in agent["messages"][1:]]
    assert roles == ["user", "assistant", "tool", "assistant"] * 2
    call = agent["messages"][2]["tool_calls"][0]
    result = agent["messages"][3]
    assert call["function"]["name"] == "archival_memory_insert"
    assert result["tool_call_id"] == call["id"]
    assert result["tool_returns"][0]["status"] == "success"
    assert agent["messages"][4]["content"][0] == {
        "type": "reasoning",
        "is_native": False,
        "reasoning": "Worth saving.",
        "signature": None,
    }
    assert [p["text"] for p in agent["engram"]["passages"]] == [CAT_FACT]


# --------------------------------------------------------------------------- options


def test_scrub_messages_leaves_the_conversation_out(
    api: httpx.Client, conversed: dict[str, Any]
) -> None:
    scrubbed = export(api, conversed["id"], scrub_messages="true")
    posted = api.post(
        f"/v1/agents/{conversed['id']}/export",
        json={"scrub_messages": True, "skills": [{"name": "pets", "source_url": None}]},
    )
    assert posted.status_code == 200, posted.text

    for document in (scrubbed, json.loads(posted.text)):
        (agent,) = document["agents"]
        assert agent["messages"] == [] and agent["in_context_message_ids"] == []
        assert agent["engram"]["summary"] == ""
        assert len(agent["engram"]["passages"]) == 1
    assert json.loads(posted.text)["skills"][0]["name"] == "pets"
    new_id = imported_id(api, scrubbed)
    assert history(api, new_id) == []
    assert core_memory(api, new_id)["human"] == "Name: Ada\nOwns a cat."


def test_strip_messages_imports_memory_without_history(
    api: httpx.Client, conversed: dict[str, Any]
) -> None:
    new_id = imported_id(api, export(api, conversed["id"]), strip_messages=True)

    assert history(api, new_id) == []
    assert context(api, new_id)["num_messages"] == 0
    assert [p["text"] for p in passages(api, new_id)] == [CAT_FACT]


def test_name_options(api: httpx.Client, conversed: dict[str, Any]) -> None:
    document = export(api, conversed["id"])

    renamed = imported_id(api, document, name="Miso's friend")
    kept = imported_id(api, document, append_copy_suffix=False)
    legacy_option = imported_id(api, document, override_name="old option")

    assert get_agent(api, renamed)["name"] == "Miso's friend"
    assert get_agent(api, kept)["name"] == "miso-keeper"
    assert get_agent(api, legacy_option)["name"] == "old option"


def test_model_option_replaces_the_files_model(
    api: httpx.Client, conversed: dict[str, Any]
) -> None:
    document = export(api, conversed["id"])
    document["agents"][0]["llm_config"] = {"model": "gone", "context_window": 0}

    new_id = imported_id(api, document, model=MODEL)

    assert get_agent(api, new_id)["llm_config"]["handle"] == MODEL
    missing = import_file(api, document, model="openai/no-such-model")
    assert missing.status_code == 422, missing.text


# --------------------------------------------------------------------------- tools


def custom_tool_file(source: str) -> dict[str, Any]:
    return {
        "agents": [
            {
                "id": "agent-0",
                "name": "roller",
                "agent_type": "letta_v1_agent",
                "llm_config": {"model": "gpt-4o-mini", "context_window": 8192, "handle": MODEL},
                "tool_ids": ["tool-0", "tool-1"],
            }
        ],
        "tools": [
            {
                "id": "tool-0",
                "name": "roll_die_for_import_test",
                "tool_type": "custom",
                "source_type": "python",
                "source_code": source,
                "json_schema": {
                    "name": "roll_die_for_import_test",
                    "description": "Roll a die.",
                    "parameters": {"type": "object", "properties": {}, "required": []},
                },
            },
            {"id": "tool-1", "name": "send_message", "tool_type": "letta_core"},
        ],
    }


def tool_source(api: httpx.Client, agent_id: str, name: str) -> str:
    (tool,) = [t for t in get_agent(api, agent_id)["tools"] if t["name"] == name]
    return tool["source_code"]


def test_custom_tools_are_created_then_reused_or_overwritten(api: httpx.Client) -> None:
    name = "roll_die_for_import_test"
    first = imported_id(api, custom_tool_file("def roll_die_for_import_test():\n    return 4\n"))
    kept = imported_id(
        api,
        custom_tool_file("def roll_die_for_import_test():\n    return 6\n"),
        override_existing_tools=False,
    )
    tool_ids = {t["name"]: t["id"] for t in get_agent(api, first)["tools"]}

    assert tool_source(api, kept, name).endswith("return 4\n")
    assert {t["name"]: t["id"] for t in get_agent(api, kept)["tools"]} == tool_ids
    overwritten = import_file(
        api, custom_tool_file("def roll_die_for_import_test():\n    return 6\n")
    )
    assert overwritten.status_code == 200, overwritten.text
    (overwritten_id,) = overwritten.json()["agent_ids"]
    assert tool_source(api, overwritten_id, name).endswith("return 6\n")
    assert tool_source(api, first, name).endswith("return 6\n")
    assert overwritten.json()["replaced_tools"] == [name]
    assert overwritten.json()["kept_tools"] == ["send_message"]


def test_unknown_builtin_tool_is_refused_and_nothing_is_created(api: httpx.Client) -> None:
    document = custom_tool_file("def roll_die_for_import_test():\n    return 4\n")
    document["tools"][1] = {
        "id": "tool-1",
        "name": "store_memories",
        "tool_type": "letta_voice_sleeptime_core",
    }
    document["blocks"] = [{"id": "block-0", "label": "human", "value": "x"}]
    document["agents"][0]["block_ids"] = ["block-0"]
    agents_before, blocks_before = agent_count(api), block_count(api)

    response = import_file(api, document)

    assert response.status_code == 422, response.text
    assert "store_memories" in detail_text(response)
    assert (agent_count(api), block_count(api)) == (agents_before, blocks_before)


@pytest.mark.parametrize(
    ("name", "tool_type"),
    [
        ("memory_rethink", "letta_sleeptime_core"),
        ("run_code", "letta_builtin"),
        ("web_search", "letta_builtin"),
        ("send_message_to_agent_and_wait_for_reply", "letta_multi_agent_core"),
    ],
)
def test_a_file_naming_any_builtin_this_server_runs_imports_with_it(
    api: httpx.Client, name: str, tool_type: str
) -> None:
    document = custom_tool_file("def roll_die_for_import_test():\n    return 4\n")
    document["tools"][1] = {"id": "tool-1", "name": name, "tool_type": tool_type}

    agent_id = imported_id(api, document)

    assert name in [tool["name"] for tool in get_agent(api, agent_id)["tools"]]


# --------------------------------------------------------------------------- shared tools

ECHO = '''
def {name}(text: str) -> str:
    """Echo some text.

    Args:
        text: The text to echo.
    """
    return {result}
'''


def echo_source(name: str, result: str = "text") -> str:
    return ECHO.format(name=name, result=result)


def one_tool_file(name: str, source: str, **tool: Any) -> dict[str, Any]:
    """A file whose one agent uses one custom tool, ``tool`` adding to its fields."""
    document = valid_file()
    document["agents"][0]["tool_ids"] = ["tool-0"]
    schema = {"name": name, "parameters": {"type": "object", "properties": {}}}
    document["tools"] = [
        {"id": "tool-0", "name": name, "source_code": source, "json_schema": schema, **tool}
    ]
    return document


def import_with_flag(api: httpx.Client, document: dict[str, Any], **form: Any) -> httpx.Response:
    """An import with Engram's ``allow_tool_permission_changes`` as a query parameter."""
    content = json.dumps(document).encode()
    return api.post(
        "/v1/agents/import",
        params={"allow_tool_permission_changes": "true"},
        files={"file": ("agent.af", content, "application/json")},
        data={key: str(value).lower() for key, value in form.items()},
    )


@pytest.fixture
def shared_tool(api: httpx.Client, make_agent: AgentFactory) -> dict[str, Any]:
    """A custom tool without network access, used by an existing agent."""
    name = f"echo_{uuid.uuid4().hex[:8]}"
    tool = create_tool(api, echo_source(name))
    make_agent(tool_ids=[tool["id"]])
    return tool


def stored_tool(api: httpx.Client, tool_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/tools/{tool_id}")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "reach",
    [{"metadata_": {"network": True}}, {"pip_requirements": [{"name": "six"}]}],
    ids=["network", "packages"],
)
def test_an_import_never_changes_a_shared_tools_reach_without_the_flag(
    api: httpx.Client, shared_tool: dict[str, Any], reach: dict[str, Any]
) -> None:
    name = shared_tool["name"]
    document = one_tool_file(name, echo_source(name, '"rewritten"'), **reach)
    before, agents_before = stored_tool(api, shared_tool["id"]), agent_count(api)

    refused = import_file(api, document)

    assert refused.status_code == 409, refused.text
    said = detail_text(refused)
    assert f"'{name}'" in said and "allow_tool_permission_changes=true" in said
    assert (
        "network off -> on" if "metadata_" in reach else "pip_requirements none -> [six]"
    ) in said
    assert stored_tool(api, shared_tool["id"]) == before
    assert agent_count(api) == agents_before

    kept = import_file(api, document, override_existing_tools=False)
    assert kept.status_code == 200, kept.text
    assert (kept.json()["kept_tools"], kept.json()["replaced_tools"]) == ([name], [])
    assert stored_tool(api, shared_tool["id"]) == before

    allowed = import_with_flag(api, document)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["replaced_tools"] == [name]
    after = stored_tool(api, shared_tool["id"])
    assert '"rewritten"' in after["source_code"]
    assert {k: after[k] for k in reach} == reach


def test_the_flag_may_also_come_as_a_form_field(
    api: httpx.Client, shared_tool: dict[str, Any]
) -> None:
    name = shared_tool["name"]
    document = one_tool_file(name, echo_source(name), metadata_={"network": True})

    response = import_file(api, document, allow_tool_permission_changes=True)

    assert response.status_code == 200, response.text
    assert stored_tool(api, shared_tool["id"])["metadata_"] == {"network": True}


def test_a_code_change_that_keeps_the_reach_needs_no_flag(
    api: httpx.Client, shared_tool: dict[str, Any]
) -> None:
    name = shared_tool["name"]

    response = import_file(api, one_tool_file(name, echo_source(name, "text.upper()")))

    assert response.status_code == 200, response.text
    assert response.json()["replaced_tools"] == [name]
    assert "text.upper()" in stored_tool(api, shared_tool["id"])["source_code"]


def test_reimporting_an_export_keeps_the_tools_it_carries(
    api: httpx.Client, shared_tool: dict[str, Any], make_agent: AgentFactory
) -> None:
    api.patch(f"/v1/tools/{shared_tool['id']}", json={"metadata_": {"network": True}})
    agent = make_agent(tool_ids=[shared_tool["id"]])

    response = import_file(api, export(api, agent["id"]))

    assert response.status_code == 200, response.text
    assert shared_tool["name"] in response.json()["kept_tools"]  # with the built-in tools
    assert (response.json()["created_tools"], response.json()["replaced_tools"]) == ([], [])


def test_a_new_tool_is_created_as_the_file_has_it(api: httpx.Client) -> None:
    name = f"echo_{uuid.uuid4().hex[:8]}"
    document = one_tool_file(name, echo_source(name), metadata_={"network": True})

    response = import_file(api, document)

    assert response.status_code == 200, response.text
    assert response.json()["created_tools"] == [name]
    (new_id,) = response.json()["agent_ids"]
    (tool,) = get_agent(api, new_id)["tools"]
    assert (tool["name"], tool["metadata_"]) == (name, {"network": True})


# --------------------------------------------------------------------------- tool variables

WEATHER = '''
def {name}(city: str) -> dict:
    """Today's weather.

    Args:
        city: The city to look up.
    """
    import os
    return {{"city": city, "key": os.environ.get("WEATHER_KEY")}}
'''


@pytest.fixture
def keyed(api: httpx.Client, make_agent: AgentFactory) -> dict[str, Any]:
    """An agent whose custom tool reads WEATHER_KEY, with two tool variables."""
    name = f"weather_{uuid.uuid4().hex[:8]}"
    tool = create_tool(api, WEATHER.format(name=name))
    return make_agent(
        tool_ids=[tool["id"]],
        tool_exec_environment_variables={"WEATHER_KEY": "k-1"},
        secrets={"UNITS": "metric"},
    )


def variables(api: httpx.Client, agent_id: str) -> dict[str, str]:
    shown = get_agent(api, agent_id)["tool_exec_environment_variables"]
    return {v["key"]: v["value"] for v in shown}


def weather_key_seen(api: httpx.Client, agent_id: str) -> Any:
    (tool,) = [t for t in get_agent(api, agent_id)["tools"] if t["name"].startswith("weather_")]
    response = api.post(
        f"/v1/agents/{agent_id}/tools/{tool['name']}/run", json={"args": {"city": "Oslo"}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success", response.text
    return response.json()["func_return"]["key"]


def test_tool_variables_travel_by_name_and_take_their_values_at_import(
    api: httpx.Client, keyed: dict[str, Any]
) -> None:
    text = api.get(f"/v1/agents/{keyed['id']}/export").text
    document = json.loads(text)
    named = {"WEATHER_KEY": "", "UNITS": ""}
    assert document["agents"][0]["tool_exec_environment_variables"] == named
    assert document["agents"][0]["secrets"] == named
    assert "k-1" not in text and "metric" not in text

    response = import_file(api, document, secrets='{"WEATHER_KEY": "k-2"}')

    assert response.status_code == 200, response.text
    (new_id,) = response.json()["agent_ids"]
    assert variables(api, new_id) == {"WEATHER_KEY": "k-2", "UNITS": ""}
    assert response.json()["tool_variables_without_value"] == {new_id: ["UNITS"]}
    assert weather_key_seen(api, new_id) == "k-2"
    assert variables(api, keyed["id"]) == {"WEATHER_KEY": "k-1", "UNITS": "metric"}


def test_tool_variables_survive_an_export_that_includes_them(
    api: httpx.Client, keyed: dict[str, Any]
) -> None:
    document = export(api, keyed["id"], include_secrets="true")

    response = import_file(api, document)

    assert response.status_code == 200, response.text
    (new_id,) = response.json()["agent_ids"]
    assert variables(api, new_id) == {"WEATHER_KEY": "k-1", "UNITS": "metric"}
    assert response.json()["tool_variables_without_value"] == {}
    assert weather_key_seen(api, new_id) == "k-1"


@pytest.mark.parametrize(
    "where", ["secrets", "env_vars_json", "file"], ids=["secrets", "env_vars_json", "file"]
)
@pytest.mark.parametrize("variables", [{"A=B": "x"}, {"": "x"}, {"A": "x\u0000y"}])
def test_a_variable_no_environment_can_hold_is_refused_naming_where(
    api: httpx.Client, where: str, variables: dict[str, str]
) -> None:
    document = valid_file()
    form = {} if where == "file" else {where: json.dumps(variables)}
    if where == "file":
        document["agents"][0]["secrets"] = variables
    agents_before = agent_count(api)

    response = import_file(api, document, **form)

    assert response.status_code == 422, response.text
    said = detail_text(response)
    assert said.startswith(where) if where != "file" else "file.agents.0.secrets" in said, said
    assert agent_count(api) == agents_before


def test_import_variables_fill_a_letta_style_file_and_secrets_win(api: httpx.Client) -> None:
    document = valid_file()
    document["agents"][0]["tool_exec_environment_variables"] = {"A": "", "B": ""}

    new_id = imported_id(
        api, document, env_vars_json='{"A": "old", "B": "b"}', secrets='{"A": "new", "C": "c"}'
    )

    assert variables(api, new_id) == {"A": "new", "B": "b", "C": "c"}


# --------------------------------------------------------------------------- bad files


def valid_file() -> dict[str, Any]:
    return {
        "agents": [
            {
                "id": "agent-0",
                "name": "tiny",
                "agent_type": "letta_v1_agent",
                "llm_config": {"model": "gpt-4o-mini", "context_window": 8192, "handle": MODEL},
                "block_ids": ["block-0"],
                "messages": [
                    {"id": "message-0", "role": "user", "content": "hello"},
                    {"id": "message-1", "role": "assistant", "content": "hi"},
                ],
                "in_context_message_ids": ["message-0", "message-1"],
            }
        ],
        "blocks": [{"id": "block-0", "label": "human", "value": "Name: Bo"}],
        "tools": [],
    }


def _append_tool_message_without_call_id(agent: dict[str, Any]) -> None:
    agent["messages"].append({"id": "message-2", "role": "tool", "content": "4"})


# Each malformation: what it does to a valid document (``doc``) or its agent (``agent``).
EDITS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "no agents": lambda doc, agent: doc.pop("agents"),
    "empty agents": lambda doc, agent: doc.update(agents=[]),
    "bad role": lambda doc, agent: agent["messages"][0].update(role="narrator"),
    "unknown block ref": lambda doc, agent: agent.update(block_ids=["block-9"]),
    "unknown context ref": lambda doc, agent: agent.update(in_context_message_ids=["message-9"]),
    "duplicate message ids": lambda doc, agent: agent["messages"][1].update(id="message-0"),
    "block over limit": lambda doc, agent: doc["blocks"][0].update(limit=3),
    "no llm_config": lambda doc, agent: agent.pop("llm_config"),
    "bad agent type": lambda doc, agent: agent.update(agent_type="voice_convo_agent"),
    "sources": lambda doc, agent: doc.update(sources=[{"id": "source-0", "name": "docs"}]),
    "tool message without call id": lambda doc, agent: _append_tool_message_without_call_id(agent),
    "image content": lambda doc, agent: agent["messages"][0].update(
        content=[{"type": "image", "source": {}}]
    ),
}
# ... or what replaces the document altogether.
REPLACEMENTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "not json": lambda doc: b"{ this is not json",
    "array": lambda doc: [doc],
    "legacy without a model": lambda doc: {"core_memory": [], "messages": [], "name": "old"},
    "string of an array": lambda doc: json.dumps(json.dumps([doc])).encode(),
}


def broken(change: str) -> Any:
    document = valid_file()
    if change in REPLACEMENTS:
        return REPLACEMENTS[change](document)
    EDITS[change](document, document["agents"][0])
    return document


@pytest.mark.parametrize(
    "change",
    [
        "not json", "array", "no agents", "empty agents", "bad role", "unknown block ref",
        "unknown context ref", "duplicate message ids", "legacy without a model",
        "string of an array", "block over limit",
        "no llm_config", "bad agent type", "sources", "tool message without call id",
        "image content",
    ],
)  # fmt: skip
def test_malformed_file_is_refused_with_422_and_nothing_changes(
    api: httpx.Client, change: str
) -> None:
    agents_before, blocks_before = agent_count(api), block_count(api)

    response = import_file(api, broken(change))

    assert response.status_code == 422, response.text
    assert detail_text(response)
    assert (agent_count(api), block_count(api)) == (agents_before, blocks_before)


def test_valid_minimal_file_imports(api: httpx.Client) -> None:
    new_id = imported_id(api, valid_file())

    assert [m["content"] for m in history(api, new_id)] == ["hello", "hi"]
    assert context(api, new_id)["num_messages"] == 2


def test_agents_sharing_a_block_in_the_file_share_its_new_copy(api: httpx.Client) -> None:
    document = valid_file()
    document["agents"].append({**document["agents"][0], "id": "agent-1", "name": "twin"})

    response = import_file(api, document, append_copy_suffix=False)

    assert response.status_code == 200, response.text
    first, second = response.json()["agent_ids"]
    assert [a["name"] for a in (get_agent(api, first), get_agent(api, second))] == ["tiny", "twin"]
    edited = api.patch(
        f"/v1/agents/{first}/core-memory/blocks/human", json={"value": "Name: Bo Jr."}
    )
    assert edited.status_code == 200, edited.text
    assert core_memory(api, second)["human"] == "Name: Bo Jr."


def test_unknown_fields_are_tolerated(api: httpx.Client, conversed: dict[str, Any]) -> None:
    document = export(api, conversed["id"])
    document["from_the_future"] = {"x": 1}
    document["agents"][0]["hover_mode"] = True
    document["agents"][0]["messages"][1]["sentiment"] = "calm"
    document["blocks"][0]["colour"] = "blue"
    document["tools"][0]["pricing"] = None

    new_id = imported_id(api, document)

    assert len(history(api, new_id)) == len(history(api, conversed["id"]))


def text_message(file_id: str, role: str, text: str) -> dict[str, Any]:
    return {"id": file_id, "role": role, "content": [{"type": "text", "text": text}]}


def test_letta_style_file_with_compiled_prompt_and_packed_history(api: httpx.Client) -> None:
    """A file as Letta writes it: the compiled prompt first, tool results packed as JSON."""
    document = valid_file()
    agent = document["agents"][0]
    agent["system"] = "You are Tiny."
    call = {"id": "call-1", "type": "function"}
    call["function"] = {"name": "send_message", "arguments": json.dumps({"message": "4"})}
    agent["messages"] = [
        text_message("message-0", "system", "You are Tiny.\n<memory_blocks>..."),
        text_message("message-1", "user", "old question"),
        text_message("message-2", "assistant", "old answer"),
        text_message("message-3", "user", "roll"),
        {**text_message("message-4", "assistant", ""), "tool_calls": [call]},
        {
            **text_message("message-5", "tool", json.dumps({"status": "OK"})),
            "name": "send_message",
            "tool_call_id": "call-1",
            "tool_returns": [{"tool_call_id": "call-1", "status": "success"}],
        },
    ]
    agent["in_context_message_ids"] = ["message-0", "message-3", "message-4", "message-5"]

    new_id = imported_id(api, document)

    shown = [(m["message_type"], m.get("content")) for m in history(api, new_id)]
    assert shown == [
        ("user_message", "old question"),
        ("assistant_message", "old answer"),
        ("user_message", "roll"),
        ("assistant_message", "4"),
    ]
    assert context(api, new_id)["num_messages"] == 3


# --------------------------------------------------------------------------- long histories

# More messages than one insert batch: the import writes them in several, in one transaction.
LONG = 2 * INSERT_BATCH_ROWS + 234


def long_history_file() -> dict[str, Any]:
    document = valid_file()
    agent = document["agents"][0]
    agent["messages"] = [
        {"id": f"message-{i}", "role": ("user", "assistant")[i % 2], "content": f"line {i}"}
        for i in range(LONG)
    ]
    agent["in_context_message_ids"] = [f"message-{i}" for i in range(LONG - 4, LONG)]
    return document


def stored_messages(server: EngramServer) -> int:
    """Every message row in the server's database, whichever agent it belongs to."""
    url = server.env.get("ENGRAM_DATABASE_URL")
    engine = create_engine(
        normalize_database_url(url) if url else f"sqlite:///{server.data_dir / 'engram.db'}"
    )
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM messages")).scalar_one())
    finally:
        engine.dispose()


def test_a_long_history_imports_whole_and_in_order(api: httpx.Client) -> None:
    new_id = imported_id(api, long_history_file())

    shown = [m["content"] for m in list_all(api, f"/v1/agents/{new_id}/messages", order="asc")]
    assert shown == [f"line {i}" for i in range(LONG)]
    assert context(api, new_id)["num_messages"] == 4


def test_an_import_failing_after_a_long_history_is_written_leaves_nothing(
    api: httpx.Client, engram_server: EngramServer
) -> None:
    """The first agent's messages are all inserted before the second agent's unknown tool
    is found: the whole import is undone, not just the agent that failed."""
    document = long_history_file()
    first = document["agents"][0]
    document["agents"].append({**first, "id": "agent-1", "tools": ["no_such_tool"]})
    before = (agent_count(api), block_count(api), stored_messages(engram_server))

    response = import_file(api, document)

    assert response.status_code == 422, response.text
    assert "no_such_tool" in detail_text(response)
    assert (agent_count(api), block_count(api), stored_messages(engram_server)) == before


# --------------------------------------------------------------------------- other refusals


def test_export_refusals(api: httpx.Client, conversed: dict[str, Any]) -> None:
    path = f"/v1/agents/{conversed['id']}/export"
    assert api.get(path, params={"conversation_id": "conv-1"}).status_code == 404
    posted = api.post(path, json={"conversation_id": "conv-1"})
    assert posted.status_code == 404
    assert (
        api.get("/v1/agents/agent-00000000-0000-0000-0000-000000000000/export").status_code == 404
    )


def test_import_refusals(api: httpx.Client) -> None:
    agents_before = agent_count(api)

    bad_secrets = import_file(api, valid_file(), env_vars_json="[1]")
    not_strings = import_file(api, valid_file(), secrets='{"API_KEY": 1}')
    no_file = api.post("/v1/agents/import", data={"strip_messages": "true"})
    too_long = import_file(api, valid_file(), name="n" * 300)

    assert bad_secrets.status_code == 422 and "env_vars_json" in detail_text(bad_secrets)
    assert not_strings.status_code == 422 and "secrets" in detail_text(not_strings)
    assert no_file.status_code == 422
    assert too_long.status_code == 422
    assert agent_count(api) == agents_before
    assert import_file(api, valid_file(), secrets="{}").status_code == 200


# --------------------------------------------------------------------------- Letta's SDK


def test_letta_sdk_exports_and_imports(
    engram_server: EngramServer, api: httpx.Client, conversed: dict[str, Any]
) -> None:
    with Letta(base_url=engram_server.base_url, api_key="unused", max_retries=0) as sdk:
        text = sdk.agents.export_file(conversed["id"])
        assert json.loads(text)["agents"][0]["name"] == "miso-keeper"
        result = sdk.agents.import_file(
            file=("miso.af", text.encode(), "application/json"),
            append_copy_suffix=False,
            strip_messages=True,
            override_existing_tools=False,
        )

    (new_id,) = result.agent_ids
    assert get_agent(api, new_id)["name"] == "miso-keeper"
    assert history(api, new_id) == []
    assert list_all(api, f"/v1/agents/{new_id}/archival-memory")[0]["text"] == CAT_FACT
