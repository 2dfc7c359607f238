"""Block labels that are paths (``system/human/family``, ``reference/notes``), as Letta's
MemFS-era agents use them: created over REST and through letta-client, addressed in URLs,
brought in by agent files, edited by memory tools, and shown in the prompt as Letta shows
them. Bad labels are still refused, naming the field."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from letta_client import UnprocessableEntityError

from tests.api.conftest import MODEL, AgentFactory, core_memory, detail_text, error_fields
from tests.compat.conftest import letta_client_for
from tests.fakes import FakeLLM, reply
from tests.helpers import send
from tests.support.server import EngramServer

FAMILY = "system/human/family"
NOTES = "reference/notes"
FAMILY_VALUE = "Two sisters, Ana and Rui."
NOTES_VALUE = "Bo drinks green tea."


def path_blocks() -> list[dict[str, Any]]:
    return [
        {"label": FAMILY, "value": FAMILY_VALUE, "description": "The user's family"},
        {"label": NOTES, "value": NOTES_VALUE},
    ]


def blocks_path(agent_id: str, label: str = "") -> str:
    return f"/v1/agents/{agent_id}/core-memory/blocks/{label}".rstrip("/")


# --------------------------------------------------------------------------- REST


def test_path_labels_are_addressed_in_urls_raw_or_encoded(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent_id = make_agent(memory_blocks=path_blocks())["id"]
    assert core_memory(api, agent_id) == {FAMILY: FAMILY_VALUE, NOTES: NOTES_VALUE}

    raw = api.get(blocks_path(agent_id, FAMILY))
    encoded = api.get(blocks_path(agent_id, quote(FAMILY, safe="")))
    assert raw.status_code == encoded.status_code == 200, (raw.text, encoded.text)
    assert raw.json()["label"] == encoded.json()["label"] == FAMILY
    assert raw.json()["value"] == FAMILY_VALUE

    patched = api.patch(blocks_path(agent_id, quote(NOTES, safe="")), json={"value": "Oolong."})
    assert patched.status_code == 200, patched.text
    assert patched.json()["label"] == NOTES
    renamed = api.patch(blocks_path(agent_id, NOTES), json={"label": "reference/drinks/tea"})
    assert renamed.status_code == 200, renamed.text
    assert core_memory(api, agent_id) == {FAMILY: FAMILY_VALUE, "reference/drinks/tea": "Oolong."}

    missing = api.get(blocks_path(agent_id, "system/human/nobody"))
    assert missing.status_code == 404
    assert "system/human/nobody" in detail_text(missing)
    # The list still answers with a trailing slash, not as a block labelled "".
    listed = api.get(blocks_path(agent_id) + "/")
    assert listed.status_code == 200, listed.text
    assert {block["label"] for block in listed.json()} == {FAMILY, "reference/drinks/tea"}


def test_a_standalone_path_labelled_block_attaches_by_id(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent_id = make_agent(memory_blocks=[])["id"]
    created = api.post("/v1/blocks/", json={"label": "shared/house/rules", "value": "No shoes."})
    assert created.status_code == 200, created.text
    block_id = created.json()["id"]
    try:
        found = api.get("/v1/blocks/", params={"label": "shared/house/rules"}).json()
        assert [block["id"] for block in found] == [block_id]
        attached = api.patch(f"{blocks_path(agent_id)}/attach/{block_id}")
        assert attached.status_code == 200, attached.text
        assert api.get(blocks_path(agent_id, "shared/house/rules")).json()["value"] == "No shoes."
        detached = api.patch(f"{blocks_path(agent_id)}/detach/{block_id}")
        assert detached.status_code == 200, detached.text
        assert core_memory(api, agent_id) == {}
    finally:
        api.delete(f"/v1/blocks/{block_id}")


# --------------------------------------------------------------------------- letta-client


def test_path_labels_through_letta_client(engram_server: EngramServer, fake_llm: FakeLLM) -> None:
    with letta_client_for(engram_server) as sdk:
        agent = sdk.agents.create(model=MODEL, memory_blocks=path_blocks())  # type: ignore[arg-type]
        try:
            family = sdk.agents.blocks.retrieve(FAMILY, agent_id=agent.id)
            assert (family.label, family.value) == (FAMILY, FAMILY_VALUE)
            assert family.description == "The user's family"

            updated = sdk.agents.blocks.update(NOTES, agent_id=agent.id, value="Oolong.")
            assert (updated.label, updated.value) == (NOTES, "Oolong.")
            assert sdk.agents.blocks.retrieve(NOTES, agent_id=agent.id).value == "Oolong."
            labels = sorted(block.label or "" for block in sdk.agents.blocks.list(agent.id))
            assert labels == [NOTES, FAMILY]

            with pytest.raises(UnprocessableEntityError, match="label"):
                sdk.blocks.create(label="   ", value="blank label")
        finally:
            sdk.agents.delete(agent.id)


# --------------------------------------------------------------------------- agent files


def agent_file(tags: list[str]) -> dict[str, Any]:
    """One agent whose blocks have path labels, as Letta 0.16.8 writes them."""
    return {
        "agents": [
            {
                "id": "agent-0",
                "name": "family-keeper",
                "agent_type": "letta_v1_agent",
                "llm_config": {"model": "gpt-4o-mini", "context_window": 8192, "handle": MODEL},
                "block_ids": ["block-0", "block-1", "block-2"],
                "tags": tags,
                "messages": [],
                "in_context_message_ids": [],
            }
        ],
        "blocks": [
            {"id": "block-0", "label": "system/persona", "value": "I am Kit, a helper."},
            {"id": "block-1", **path_blocks()[0]},
            {"id": "block-2", **path_blocks()[1]},
        ],
        "tools": [],
    }


FILE_VALUES = {"system/persona": "I am Kit, a helper.", FAMILY: FAMILY_VALUE, NOTES: NOTES_VALUE}


def import_and_run(
    engram_server: EngramServer, api: httpx.Client, fake_llm: FakeLLM, document: dict[str, Any]
) -> tuple[str, str]:
    """Import ``document`` through letta-client, run one turn; the agent's id and the system
    prompt the model was sent."""
    with letta_client_for(engram_server) as sdk:
        result = sdk.agents.import_file(
            file=("family.af", json.dumps(document).encode(), "application/json")
        )
    (agent_id,) = result.agent_ids
    fake_llm.script(reply.text("Hello Bo."))
    send(api, agent_id, "Who is in my family?")
    return agent_id, fake_llm.chat_requests[-1].system_text


def test_an_imported_agent_sees_path_labels_as_whole_tag_names(
    engram_server: EngramServer, api: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent_id, prompt = import_and_run(engram_server, api, fake_llm, agent_file(tags=[]))
    try:
        assert core_memory(api, agent_id) == FILE_VALUES
        assert f"<{FAMILY}>\n<description>The user's family</description>" in prompt
        assert f"<value>\n{FAMILY_VALUE}\n</value>\n</{FAMILY}>" in prompt
        assert f"<value>\n{NOTES_VALUE}\n</value>\n</{NOTES}>" in prompt
    finally:
        api.delete(f"/v1/agents/{agent_id}")


def test_an_imported_memfs_agent_sees_its_memory_as_files(
    engram_server: EngramServer, api: httpx.Client, fake_llm: FakeLLM
) -> None:
    document = agent_file(tags=["git-memory-enabled"])
    agent_id, prompt = import_and_run(engram_server, api, fake_llm, document)
    try:
        assert core_memory(api, agent_id) == FILE_VALUES
        assert (
            "<self>\n<projection>$MEMORY_DIR/system/persona.md</projection>\n"
            "I am Kit, a helper.\n</self>"
        ) in prompt
        assert (
            "<memory>\n<human>\n  <family>\n"
            "    <projection>$MEMORY_DIR/system/human/family.md</projection>\n"
            "    <description>The user's family</description>\n"
            f"    {FAMILY_VALUE}\n  </family>\n</human>\n"
            "<external_projection>\n${MEMORY_DIR}/\n└── reference/\n    └── notes.md\n"
            "</external_projection>\n</memory>"
        ) in prompt
        # Outside system/, a block is listed as a file, not shown.
        assert NOTES_VALUE not in prompt
        assert "<memory_blocks>" not in prompt
        context = api.get(f"/v1/agents/{agent_id}/context").json()
        assert "<self>" in context["core_memory"]
    finally:
        api.delete(f"/v1/agents/{agent_id}")


def test_a_memfs_agent_exports_the_prompt_it_runs_with(
    engram_server: EngramServer, api: httpx.Client, fake_llm: FakeLLM
) -> None:
    document = agent_file(tags=["git-memory-enabled"])
    agent_id, prompt = import_and_run(engram_server, api, fake_llm, document)
    try:
        exported = api.get(f"/v1/agents/{agent_id}/export")
        assert exported.status_code == 200, exported.text
        system = exported.json()["agents"][0]["messages"][0]
        text = system["content"][0]["text"]
        assert system["role"] == "system"
        assert "<self>" in text and "<external_projection>" in text
        assert "<memory_blocks>" not in text
        assert text.split("<memory_metadata>")[0] == prompt.split("<memory_metadata>")[0]
    finally:
        api.delete(f"/v1/agents/{agent_id}")


# --------------------------------------------------------------------------- memory tools


def test_memory_tools_edit_path_labelled_blocks(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent_id = make_agent(memory_blocks=path_blocks())["id"]
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": FAMILY, "content": "A cousin, Lia."}),
        reply.tool_call("core_memory_append", {"label": "system/human", "content": "x"}),
        reply.text("Noted."),
    )

    send(api, agent_id, "I also have a cousin, Lia.")

    assert core_memory(api, agent_id)[FAMILY] == f"{FAMILY_VALUE}\nA cousin, Lia."
    # A label that is only a prefix of one names no block: a tool error the model reads.
    (result,) = fake_llm.chat_requests[-1].tool_results[-1:]
    assert "no memory block labelled 'system/human'" in result
    assert FAMILY in result


# --------------------------------------------------------------------------- refusals

BAD_LABELS = {"blank": "   ", "empty": "", "too long": "a/" * 128}


@pytest.mark.parametrize("label", BAD_LABELS.values(), ids=BAD_LABELS.keys())
def test_bad_labels_are_422_naming_the_label_and_change_nothing(
    api: httpx.Client, make_agent: AgentFactory, label: str
) -> None:
    agent_id = make_agent(memory_blocks=path_blocks())["id"]

    standalone = api.post("/v1/blocks/", json={"label": label, "value": "v"})
    in_agent = api.post(
        "/v1/agents/", json={"model": MODEL, "memory_blocks": [{"label": label, "value": "v"}]}
    )
    renamed = api.patch(blocks_path(agent_id, FAMILY), json={"label": label})
    document = agent_file(tags=[])
    document["blocks"][1]["label"] = label
    imported = api.post(
        "/v1/agents/import",
        files={"file": ("bad.af", json.dumps(document).encode(), "application/json")},
    )

    for response in (standalone, in_agent, renamed, imported):
        assert response.status_code == 422, response.text
        assert "label" in error_fields(response) or "label" in detail_text(response)
    assert core_memory(api, agent_id) == {FAMILY: FAMILY_VALUE, NOTES: NOTES_VALUE}
