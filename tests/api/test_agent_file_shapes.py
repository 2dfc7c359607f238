"""Every agent-file shape Letta writes imports through letta-client and runs a turn: the
current layout, the same file encoded once more as a JSON string, the legacy single agent,
a MemFS-era agent with path labels, an agent with every built-in tool Engram runs (each
tool's own turn is in test_agent_file_builtins.py);
files with parts Engram cannot hold yet (a sleep-time group, a folder with files) import
with ``strip_unsupported`` and say what they left out; a file whose embedding model this
server lacks imports with its passages re-embedded, and says so."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from letta_client import Letta, NotFoundError, UnprocessableEntityError

from tests.api.conftest import agent_count, block_count, detail_text
from tests.compat.conftest import letta_client_for
from tests.fakes import FakeLLM, reply
from tests.support.server import EngramServer

FILES = Path(__file__).parent.parent / "fixtures" / "agent_files"
MEMGPT_TYPES = {"memgpt_agent", "memgpt_v2_agent"}


def fixture_text(name: str) -> str:
    return (FILES / name).read_text()


def fixture_blocks(name: str) -> dict[str, str]:
    """The blocks' values by label, as the fixture file gives them (whatever its shape)."""
    data = json.loads(fixture_text(name))
    if isinstance(data, str):
        data = json.loads(data)
    blocks = data["blocks"] if "agents" in data else data["core_memory"]
    return {block["label"]: block["value"] for block in blocks}


def shown(label: str, value: str) -> str:
    """What of a block the prompt shows: its value; for a block outside ``system/`` in a
    MemFS-era file (the only fixture with path labels), its path in the file tree."""
    if "/" in label and not label.startswith("system/"):
        return label.rsplit("/", 1)[-1] + ".md"
    return value


@pytest.fixture
def sdk(engram_server: EngramServer, fake_llm: FakeLLM) -> Iterator[Letta]:
    with letta_client_for(engram_server) as client:
        yield client


@pytest.fixture
def imported(sdk: Letta) -> Iterator[list[str]]:
    """Ids of the agents a test imported; deleted afterwards."""
    made: list[str] = []
    yield made
    for agent_id in made:
        with contextlib.suppress(NotFoundError):
            sdk.agents.delete(agent_id)


def import_fixture(sdk: Letta, made: list[str], name: str, **options: Any) -> dict[str, Any]:
    """Import a fixture file through letta-client; its answer with Engram's extras."""
    answer = sdk.agents.import_file(
        file=(name, fixture_text(name).encode(), "application/json"), **options
    )
    made.extend(answer.agent_ids)
    return {"agent_ids": answer.agent_ids, **(answer.model_extra or {})}


def run_one_turn(sdk: Letta, fake_llm: FakeLLM, agent_id: str) -> str:
    """One user turn on the fake LLM; the system prompt the model was given."""
    agent = sdk.agents.retrieve(agent_id)
    said = "Cherry tomatoes it is."
    if agent.agent_type in MEMGPT_TYPES:
        fake_llm.script(reply.tool_call("send_message", {"message": said}))
    else:
        fake_llm.script(reply.text(said))
    response = sdk.agents.messages.create(agent_id, input="What should I plant?")
    fake_llm.assert_script_consumed()
    assert said in json.dumps([m.model_dump(mode="json") for m in response.messages])
    request = fake_llm.chat_requests[-1]
    return request.system_text


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("current.af", {}),
        ("string_encoded.af", {}),
        ("legacy.af", {}),
        ("round_robin_group.af", {"extra_query": {"strip_unsupported": True}}),
        ("folder_with_files.af", {}),
        ("foreign_embedding.af", {}),
        ("path_labels.af", {}),
        ("builtin_tools.af", {}),
    ],
)
def test_each_shape_imports_and_runs_a_turn(
    sdk: Letta, fake_llm: FakeLLM, imported: list[str], name: str, options: dict[str, Any]
) -> None:
    answer = import_fixture(sdk, imported, name, **options)

    (agent_id,) = answer["agent_ids"]
    blocks = {block.label: block.value for block in sdk.agents.retrieve(agent_id).blocks}
    assert blocks == fixture_blocks(name)
    prompt = run_one_turn(sdk, fake_llm, agent_id)
    for label, value in blocks.items():
        assert shown(label, value) in prompt, label


def test_the_string_encoded_file_imports_as_the_object_does(
    sdk: Letta, imported: list[str]
) -> None:
    plain = import_fixture(sdk, imported, "current.af")
    encoded = import_fixture(sdk, imported, "string_encoded.af")

    first, second = (sdk.agents.retrieve(ids["agent_ids"][0]) for ids in (plain, encoded))
    assert (first.name, first.tags, first.description) == (
        second.name,
        second.tags,
        second.description,
    )
    assert [m.message_type for m in sdk.agents.messages.list(first.id).items] == [
        m.message_type for m in sdk.agents.messages.list(second.id).items
    ]
    assert encoded["adjustments"] == []


def test_a_legacy_file_keeps_its_history_window_tags_and_variables(
    sdk: Letta, imported: list[str]
) -> None:
    answer = import_fixture(sdk, imported, "legacy.af", append_copy_suffix=False)

    agent = sdk.agents.retrieve(answer["agent_ids"][0])
    assert (agent.name, agent.agent_type, agent.tags) == ("juniper", "memgpt_agent", ["garden"])
    assert {tool.name for tool in agent.tools} >= {"conversation_search", "send_message"}
    assert [v.key for v in agent.tool_exec_environment_variables or []] == ["GARDEN_API_KEY"]
    shown = sdk.agents.messages.list(agent.id, order="asc").items
    said = [(m.message_type, getattr(m, "content", None)) for m in shown]
    assert ("user_message", "My tomatoes get little sun.") in said
    assert ("assistant_message", "Hello Ada! How is the balcony garden?") in said


@pytest.mark.parametrize(("name", "parts"), [("round_robin_group.af", ["groups.0", "agents.1"])])
def test_unsupported_parts_are_refused_by_name_unless_stripped(
    api: httpx.Client, sdk: Letta, imported: list[str], name: str, parts: list[str]
) -> None:
    before = (agent_count(api), block_count(api))

    with pytest.raises(UnprocessableEntityError) as refused:
        import_fixture(sdk, imported, name)

    said = str(refused.value)
    assert all(part in said for part in parts) and "strip_unsupported" in said
    assert (agent_count(api), block_count(api)) == before

    answer = import_fixture(sdk, imported, name, extra_query={"strip_unsupported": True})
    assert [item["part"] for item in answer["adjustments"]] == parts
    assert {item["change"] for item in answer["adjustments"]} == {"left_out"}


def test_a_folder_in_the_file_imports_attached_ingested_and_open(
    sdk: Letta, fake_llm: FakeLLM, imported: list[str]
) -> None:
    answer = import_fixture(sdk, imported, "folder_with_files.af")

    (agent_id,) = answer["agent_ids"]
    (folder,) = sdk.agents.folders.list(agent_id)
    try:
        assert folder.name.startswith("balcony-handbook")
        assert folder.description == "notes on balcony gardening"
        (file,) = sdk.folders.files.list(folder.id)
        deadline = time.monotonic() + 120
        while file.processing_status not in ("completed", "error"):
            assert time.monotonic() < deadline, file.processing_status
            time.sleep(0.1)
            file = sdk.folders.files.retrieve(file.id, folder_id=folder.id)
        assert (file.processing_status, file.total_chunks) == ("completed", 1)
        assert file.file_name == "handbook.md"
        (view,) = sdk.agents.files.list(agent_id).files
        assert view.is_open and view.file_name == f"{folder.name}/handbook.md"
        tools = {tool.name for tool in sdk.agents.retrieve(agent_id).tools}
        assert tools >= {"open_files", "grep_files", "semantic_search_files"}

        fake_llm.script(
            reply.tool_call("semantic_search_files", {"query": "how much sun do tomatoes need"}),
            reply.text("Six hours."),
        )
        sdk.agents.messages.create(agent_id, input="How much sun for tomatoes?")
        first, second = fake_llm.chat_requests[-2:]
        assert "Tomatoes need six hours of sun" in first.system_text, "the open file shows"
        assert "six hours of sun" in second.tool_results[-1]
    finally:
        sdk.agents.delete(agent_id)
        imported.remove(agent_id)
        sdk.folders.delete(folder.id)


def test_the_strip_option_is_also_a_form_field(api: httpx.Client, imported: list[str]) -> None:
    response = api.post(
        "/v1/agents/import",
        files={
            "file": ("pair.af", fixture_text("round_robin_group.af").encode(), "application/json")
        },
        data={"strip_unsupported": "true"},
    )

    assert response.status_code == 200, detail_text(response)
    imported.extend(response.json()["agent_ids"])
    assert len(response.json()["agent_ids"]) == 1


def test_a_foreign_embedding_is_replaced_and_the_passages_re_embedded(
    sdk: Letta, imported: list[str]
) -> None:
    answer = import_fixture(sdk, imported, "foreign_embedding.af")

    agent = sdk.agents.retrieve(answer["agent_ids"][0])
    assert agent.embedding_config and agent.embedding_config.embedding_dim != 2000
    (note,) = answer["adjustments"]
    assert note["part"] == "agents.0.embedding_config" and note["change"] == "changed"
    assert "2000 dimensions" in note["detail"] and "3 passages re-embedded" in note["detail"]
    texts = json.loads(fixture_text("foreign_embedding.af"))["agents"][0]["engram"]["passages"]
    found = sdk.agents.passages.search(agent.id, query="Sungold tomatoes")
    assert {p.text for p in sdk.agents.passages.list(agent.id)} == {p["text"] for p in texts}
    assert found.results and "Sungold" in found.results[0].content


def test_a_named_embedding_takes_the_passages(
    sdk: Letta, fake_llm: FakeLLM, imported: list[str]
) -> None:
    answer = import_fixture(
        sdk, imported, "foreign_embedding.af", embedding="openai/text-embedding-3-small"
    )

    agent = sdk.agents.retrieve(answer["agent_ids"][0])
    assert (
        agent.embedding_config and agent.embedding_config.handle == "openai/text-embedding-3-small"
    )
    assert "openai/text-embedding-3-small" in answer["adjustments"][0]["detail"]
    assert fake_llm.embedding_requests


def test_legacy_export_writes_the_single_agent_layout_and_imports_back(
    sdk: Letta, fake_llm: FakeLLM, imported: list[str]
) -> None:
    (agent_id,) = import_fixture(sdk, imported, "current.af")["agent_ids"]
    run_one_turn(sdk, fake_llm, agent_id)

    text = sdk.agents.export_file(agent_id, use_legacy_format=True)

    legacy = json.loads(text)
    assert "agents" not in legacy
    assert set(legacy) >= {
        "agent_type", "core_memory", "created_at", "description", "embedding_config",
        "llm_config", "message_buffer_autoclear", "in_context_message_indices", "messages",
        "multi_agent_group", "name", "system", "tags", "tool_exec_environment_variables",
        "tool_rules", "tools", "updated_at", "version",
    }  # fmt: skip
    assert legacy["tags"] == [{"tag": "garden"}]
    assert {b["label"]: b["value"] for b in legacy["core_memory"]} == fixture_blocks("current.af")
    back = sdk.agents.import_file(file=("legacy.af", text.encode(), "application/json"))
    imported.extend(back.agent_ids)
    copy = sdk.agents.retrieve(back.agent_ids[0])
    assert {b.label: b.value for b in copy.blocks} == fixture_blocks("current.af")
    said = [m.message_type for m in sdk.agents.messages.list(agent_id, order="asc").items]
    again = [m.message_type for m in sdk.agents.messages.list(copy.id, order="asc").items]
    assert again == said


def test_inline_memory_blocks_are_imported_as_the_agents_own(
    sdk: Letta, fake_llm: FakeLLM, imported: list[str]
) -> None:
    document = json.loads(fixture_text("current.af"))
    agent = document["agents"][0]
    agent["memory_blocks"] = [{"label": "garden", "value": "Balcony, north-facing.", "limit": 900}]
    text = json.dumps(document)

    answer = sdk.agents.import_file(file=("inline.af", text.encode(), "application/json"))
    imported.extend(answer.agent_ids)

    blocks = {b.label: (b.value, b.limit) for b in sdk.agents.retrieve(answer.agent_ids[0]).blocks}
    assert blocks["garden"] == ("Balcony, north-facing.", 900)
    assert set(blocks) == {"persona", "human", "garden"}
    assert "Balcony, north-facing." in run_one_turn(sdk, fake_llm, answer.agent_ids[0])
    agent["memory_blocks"] = [{"label": "garden"}]
    with pytest.raises(UnprocessableEntityError) as refused:
        sdk.agents.import_file(file=("bad.af", json.dumps(document).encode(), "application/json"))
    assert "agents.0.memory_blocks.0.value" in str(refused.value)
