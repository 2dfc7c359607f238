"""Export, import, export again: the two files are equal except ids and timestamps, in the
current layout and the legacy one; and what Engram writes is a file Letta 0.16.8 reads, as
its own schema (the ``AgentFileSchema`` of its OpenAPI document) describes one."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.api.conftest import AgentFactory, create_tool
from tests.fakes import FakeLLM, reply
from tests.helpers import send

LETTA_AGENT_FILE = Path(__file__).parents[1] / "fixtures" / "letta" / "agent_file_schema.json"
"""Letta 0.16.8's agent-file schema, from its OpenAPI document (see extract_schema.py)."""

WEATHER_SOURCE = '''
def weather(city: str) -> str:
    """Today's weather in a city.

    Args:
        city: The city's name.
    """
    return "sunny in " + city
'''

BUILTINS = [
    "memory",
    "memory_rethink",
    "memory_finish_edits",
    "memory_apply_patch",
    "memory_replace",
    "memory_insert",
    "conversation_search",
    "archival_memory_search",
    "archival_memory_insert",
    "run_code",
    "fetch_webpage",
    "web_search",
    "send_message_to_agent_async",
]

TIMESTAMPS = {"created_at", "updated_at", "last_updated"}
"""Keys whose values an import renews: the moments a row was written."""

MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")
"""A moment written into text, such as the prompt's "Core memory last edited" line."""


def export(api: httpx.Client, agent_id: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/v1/agents/{agent_id}/export", params=params)
    assert response.status_code == 200, response.text
    document = json.loads(response.text)
    assert isinstance(document, dict)
    return document


def import_back(api: httpx.Client, document: dict[str, Any]) -> str:
    response = api.post(
        "/v1/agents/import",
        files={"file": ("agent.af", json.dumps(document).encode(), "application/json")},
        data={"append_copy_suffix": "false"},
    )
    assert response.status_code == 200, response.text
    (agent_id,) = response.json()["agent_ids"]
    assert isinstance(agent_id, str)
    return agent_id


def without_timestamps(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timestamps(v) for k, v in value.items() if k not in TIMESTAMPS}
    if isinstance(value, list):
        return [without_timestamps(item) for item in value]
    if isinstance(value, str):
        return MOMENT.sub("<moment>", value)
    return value


HANDBOOK = "# Handbook\nWater the tomatoes at dawn.\nBasil likes a warm sill.\n"


def wait_until_ingested(api: httpx.Client, folder_id: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        files = api.get(f"/v1/folders/{folder_id}/files").json()
        if all(item["processing_status"] in ("completed", "error") for item in files):
            assert {item["processing_status"] for item in files} == {"completed"}, files
            return
        assert time.monotonic() < deadline, files
        time.sleep(0.1)


def folder_of(api: httpx.Client, agent_id: str) -> str:
    (folder,) = api.get(f"/v1/agents/{agent_id}/folders").json()
    return str(folder["id"])


def with_folder(api: httpx.Client, fake_llm: FakeLLM, agent_id: str) -> None:
    """A folder of one ingested file, attached, the file opened by the agent on two lines."""
    name = f"garden-notes-{uuid.uuid4().hex[:8]}"
    made = api.post("/v1/folders/", json={"name": name})
    assert made.status_code == 200, made.text
    folder_id = made.json()["id"]
    uploaded = api.post(
        f"/v1/folders/{folder_id}/upload",
        files={"file": ("handbook.md", HANDBOOK.encode(), "text/markdown")},
    )
    assert uploaded.status_code == 200, uploaded.text
    wait_until_ingested(api, folder_id)
    attached = api.patch(f"/v1/agents/{agent_id}/folders/attach/{folder_id}")
    assert attached.status_code == 200, attached.text
    request = {"file_name": f"{name}/handbook.md", "offset": 1, "length": 2}
    fake_llm.script(
        reply.tool_call("open_files", {"file_requests": [request]}), reply.text("Opened.")
    )
    send(api, agent_id, "Open the handbook at the watering notes.")
    fake_llm.assert_script_consumed()


@pytest.fixture
def rich_agent(api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory) -> str:
    """An agent with something of everything a file carries: path labels, built-in and
    custom tools, tool rules and variables, passages, a folder with an open file, a
    history with tool calls and a summary of what was folded away."""
    weather = create_tool(api, WEATHER_SOURCE)
    agent = make_agent(
        name="gardener",
        description="keeps the garden",
        metadata={"team": "garden"},
        tags=["garden", "round-trip"],
        system="You keep a garden journal.",
        memory_blocks=[
            {"label": "persona", "value": "I am a careful gardener."},
            {"label": "human", "value": "Name: Ada", "limit": 800, "description": "the user"},
            {"label": "garden/beds", "value": "Bed 1: tomatoes\nBed 2: basil"},
        ],
        tools=BUILTINS,
        tool_ids=[weather["id"]],
        tool_rules=[{"type": "max_count_per_step", "tool_name": "weather", "max_count_limit": 2}],
        tool_exec_environment_variables={"GARDEN_ZONE": "7b"},
    )
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "Tomatoes want full sun."}),
        reply.text("Saved that."),
        reply.tool_call(
            "memory_replace",
            {"label": "garden/beds", "old_string": "basil", "new_string": "sweet basil"},
        ),
        reply.text("Bed 2 now says sweet basil.", reasoning="A small fix."),
        reply.text("Three turns of notes."),
    )
    send(api, agent["id"], "Tomatoes need full sun; please remember it.")
    send(api, agent["id"], "It is sweet basil in bed 2.")
    send(api, agent["id"], "Thanks!")
    fake_llm.script(reply.text("Ada grows tomatoes and sweet basil."))
    folded = api.post(f"/v1/agents/{agent['id']}/summarize")
    assert folded.status_code == 200, folded.text
    fake_llm.assert_script_consumed()
    with_folder(api, fake_llm, agent["id"])
    return str(agent["id"])


@pytest.mark.parametrize("layout", ["current", "legacy"])
def test_export_import_export_gives_the_same_file(
    api: httpx.Client, rich_agent: str, layout: str
) -> None:
    params = {"use_legacy_format": "true"} if layout == "legacy" else {}
    folder_id = folder_of(api, rich_agent)
    if layout == "legacy":  # the legacy layout has no place for folders
        detached = api.patch(f"/v1/agents/{rich_agent}/folders/detach/{folder_id}")
        assert detached.status_code == 200, detached.text
    first = export(api, rich_agent, **params)
    # The agent moves: its folder goes too, so the import's folder takes the same name.
    api.delete(f"/v1/folders/{folder_id}")
    assert api.delete(f"/v1/agents/{rich_agent}").status_code == 200

    imported = import_back(api, first)
    if layout == "current":
        wait_until_ingested(api, folder_of(api, imported))
    second = export(api, imported, **params)

    assert without_timestamps(second) == without_timestamps(first)
    if layout == "current":
        (agent,) = first["agents"]
        assert [source["name"] for source in first["sources"]][0].startswith("garden-notes-")
        assert [item["content"] for item in first["files"]] == [HANDBOOK]
        assert [(v["is_open"], v["start_line"], v["end_line"]) for v in agent["files_agents"]]


def test_the_round_trip_keeps_what_the_agent_had(api: httpx.Client, rich_agent: str) -> None:
    before = api.get(f"/v1/agents/{rich_agent}").json()

    after = api.get(f"/v1/agents/{import_back(api, export(api, rich_agent))}").json()

    for same in ("name", "description", "metadata", "system", "tags", "tool_rules"):
        assert after[same] == before[same], same
    assert {b["label"]: b["value"] for b in after["blocks"]} == {
        b["label"]: b["value"] for b in before["blocks"]
    }
    assert sorted(t["name"] for t in after["tools"]) == sorted(t["name"] for t in before["tools"])


# --------------------------------------------------------------------------- Letta's schema


def letta_validator() -> Draft202012Validator:
    """A validator of Letta's agent file (OpenAPI 3.1 schemas are JSON Schema 2020-12)."""
    schema = json.loads(LETTA_AGENT_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_an_engram_export_is_a_valid_letta_agent_file(api: httpx.Client, rich_agent: str) -> None:
    document = export(api, rich_agent)
    validator = letta_validator()

    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]

    assert errors == []
    (agent,) = document["agents"]
    assert {message["role"] for message in agent["messages"]} >= {"system", "tool"}
    assert len(agent["in_context_message_ids"]) < len(agent["messages"]), "a fold happened"
    assert agent["engram"]["summary"] and agent["engram"]["passages"]
    given = api.get(f"/v1/agents/{rich_agent}").json()["tools"]
    names = sorted(tool["name"] for tool in document["tools"])
    assert names == sorted(tool["name"] for tool in given)
    assert set(names) >= {*BUILTINS, "weather"}
    assert any(block["label"] == "garden/beds" for block in document["blocks"])


def test_the_validator_catches_what_letta_would_refuse(api: httpx.Client, rich_agent: str) -> None:
    """The schema check above can fail: a file Letta's models would reject is reported."""
    document = export(api, rich_agent)
    del document["blocks"][0]["id"]
    document["agents"][0]["messages"][1]["role"] = "narrator"
    document["tools"][0]["tags"] = "not-a-list"

    errors = list(letta_validator().iter_errors(document))

    assert len(errors) >= 3


FIXTURES = Path(__file__).parents[1] / "fixtures" / "agent_files"


@pytest.mark.parametrize(
    "name",
    sorted(path.name for path in FIXTURES.glob("*.af") if path.name != "legacy.af"),
)
def test_the_test_files_are_letta_agent_files(name: str) -> None:
    """The fixtures stand for files Letta writes: each is one by Letta's schema (the legacy
    layout predates it)."""
    document = json.loads((FIXTURES / name).read_text())
    if isinstance(document, str):
        document = json.loads(document)

    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in letta_validator().iter_errors(document)
    ]

    assert errors == []
