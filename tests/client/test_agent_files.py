"""Agent files through the in-process client: ``client.agents.export_file`` writes the
document the REST export writes for the same agent, ``import_file`` takes it back (from a
path, bytes, text or a file object) as the REST import does, and a bad file or option is
an error naming it that creates nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from engram import Engram
from engram.errors import InvalidInput, NotFound
from tests.client.conftest import MODEL
from tests.client.rest import create_agent, database_target, ok, rest_api, send
from tests.fakes import FakeLLM, reply
from tests.support.backends import Backend

IMPORT_KEYS = {
    "agent_ids",
    "created_tools",
    "replaced_tools",
    "kept_tools",
    "tool_variables_without_value",
    "adjustments",
}


@pytest.fixture
def target(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> str:
    return database_target(fake_llm, tmp_path, backend, monkeypatch)


def remembered_agent(target: str, fake_llm: FakeLLM) -> tuple[str, str]:
    """An agent with memory, a conversation, a passage and a tool variable; its id and
    the REST export of it."""
    fake_llm.script(reply.text("Nice to meet you, Ada."))
    with rest_api(target) as http:
        agent = create_agent(
            http,
            name="ada-helper",
            memory_blocks=[{"label": "human", "value": "Name: Ada"}],
            tags=["exported"],
            description="travels well",
            secrets={"WEATHER_KEY": "k-1"},
        )
        send(http, agent["id"], "hi, I am Ada")
        ok(
            http.post(
                f"/v1/agents/{agent['id']}/archival-memory", json={"text": "Ada's dog is Rex"}
            )
        )
        response = http.get(f"/v1/agents/{agent['id']}/export")
        assert response.status_code == 200, response.text
    return agent["id"], response.text


def undated(text: str) -> dict[str, Any]:
    """The document without the moment it was written."""
    document = json.loads(text)
    document.pop("created_at")
    return dict(document)


def said(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (message["role"], part["text"])
        for message in document["agents"][0]["messages"]
        for part in message["content"]
        if part["type"] == "text" and message["role"] in ("user", "assistant")
    ]


def test_export_file_is_the_rest_export_of_the_same_agent(target: str, fake_llm: FakeLLM) -> None:
    agent_id, rest_text = remembered_agent(target, fake_llm)

    with Engram.open(target) as client:
        text = client.agents.export_file(agent_id)
        scrubbed = client.agents.export_file(agent_id, scrub_messages=True)
        with_values = client.agents.export_file(agent_id, include_secrets=True)

    assert isinstance(text, str) and text.startswith("{\n  ")
    assert undated(text) == undated(rest_text)
    assert json.loads(scrubbed)["agents"][0]["messages"] == []
    assert "k-1" not in text and json.loads(with_values)["agents"][0]["secrets"] == {
        "WEATHER_KEY": "k-1"
    }


def test_import_file_takes_the_export_back_as_a_new_agent(
    target: str, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    agent_id, rest_text = remembered_agent(target, fake_llm)
    saved = tmp_path / "agent.af"

    with Engram.open(target) as client:
        text = client.agents.export_file(agent_id)
        saved.write_text(text)
        made = client.agents.import_file(file=saved, secrets={"WEATHER_KEY": "k-2"})
        copy_text = client.agents.export_file(made.agent_ids[0], include_secrets=True)
        from_bytes = client.agents.import_file(file=text.encode(), name="from-bytes")
        from_text = client.agents.import_file(file=text, strip_messages=True)
        from_handle = client.agents.import_file(file=io.BytesIO(text.encode()))
        from_path_text = client.agents.import_file(file=str(saved), append_copy_suffix=False)

    original, copy = json.loads(rest_text), json.loads(copy_text)
    assert made.model_dump().keys() == IMPORT_KEYS and len(made.agent_ids) == 1
    assert made.agent_ids[0] != agent_id
    assert copy["agents"][0]["name"] == "ada-helper_copy"
    assert copy["agents"][0]["secrets"] == {"WEATHER_KEY": "k-2"}
    assert [(b["label"], b["value"]) for b in copy["blocks"]] == [("human", "Name: Ada")]
    assert (
        said(copy)
        == said(original)
        == [
            ("user", "hi, I am Ada"),
            ("assistant", "Nice to meet you, Ada."),
        ]
    )
    assert [p["text"] for p in copy["agents"][0]["engram"]["passages"]] == ["Ada's dog is Rex"]
    for other in (from_bytes, from_text, from_handle, from_path_text):
        assert len(other.agent_ids) == 1
    with rest_api(target) as http:
        names = {
            agent["id"]: agent["name"]
            for agent in ok(http.get("/v1/agents/", params={"limit": 50}))
        }
        stripped = ok(http.get(f"/v1/agents/{from_text.agent_ids[0]}/messages"))
        rest_copy = http.get(
            f"/v1/agents/{made.agent_ids[0]}/export", params={"include_secrets": True}
        )
    assert names[from_bytes.agent_ids[0]] == "from-bytes"
    assert names[from_path_text.agent_ids[0]] == "ada-helper"
    assert names[from_handle.agent_ids[0]] == "ada-helper_copy"
    assert not [m for m in stripped if m["message_type"] in ("user_message", "assistant_message")]
    assert undated(rest_copy.text) == undated(copy_text)


def test_import_file_answers_as_the_rest_import_does(target: str, fake_llm: FakeLLM) -> None:
    agent_id, rest_text = remembered_agent(target, fake_llm)
    with rest_api(target) as http:
        response = http.post(
            "/v1/agents/import",
            files={"file": ("agent.af", rest_text.encode(), "application/json")},
        )
        rest_answer = ok(response)

    with Engram.open(target) as client:
        answer = client.agents.import_file(
            file=("agent.af", rest_text.encode(), "application/json")
        )

    shown = answer.model_dump()
    assert shown.keys() == rest_answer.keys() == IMPORT_KEYS
    tools = ("created_tools", "replaced_tools", "kept_tools")
    assert {key: shown[key] for key in tools} == {key: rest_answer[key] for key in tools}
    # Keyed by each new agent's id: the client's names its agent, the REST answer its own.
    assert shown["tool_variables_without_value"] == {shown["agent_ids"][0]: ["WEATHER_KEY"]}
    assert rest_answer["tool_variables_without_value"] == {
        rest_answer["agent_ids"][0]: ["WEATHER_KEY"]
    }
    assert shown["agent_ids"] != rest_answer["agent_ids"]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"file": b"not json"}, "file"),
        ({"file": b"[1, 2]"}, "file"),
        ({"file": "/nowhere/agent.af"}, "file"),
        ({"file": 42}, "file"),
        ({"file": b"{}", "secrets": "[1]"}, "secrets"),
        ({"file": b"{}", "secrets": "{not json"}, "secrets"),
        ({"file": b"{}", "env_vars_json": {"KEY": 1}}, "env_vars_json"),
        ({"file": b"{}", "name": "x" * 256}, "name"),
        ({"file": b"{}", "override_name": "x" * 256}, "override_name"),
    ],
)
def test_a_bad_import_is_an_error_naming_the_field_and_creates_nothing(
    target: str, options: dict[str, Any], field: str
) -> None:
    with Engram.open(target) as client, pytest.raises(InvalidInput) as refused:
        client.agents.import_file(**options)

    assert refused.value.field == field
    with rest_api(target) as http:
        assert ok(http.get("/v1/agents/")) == []


def test_an_import_with_a_broken_agent_names_where_and_creates_nothing(
    target: str, fake_llm: FakeLLM
) -> None:
    agent_id, text = remembered_agent(target, fake_llm)
    document = json.loads(text)
    document["agents"][0]["llm_config"]["context_window"] = "wide"

    with Engram.open(target) as client, pytest.raises(InvalidInput) as refused:
        client.agents.import_file(file=json.dumps(document).encode())

    assert refused.value.field.startswith("file.agents.0")
    with rest_api(target) as http:
        assert [agent["id"] for agent in ok(http.get("/v1/agents/"))] == [agent_id]


@pytest.mark.parametrize(
    ("options", "error", "named"),
    [
        ({"conversation_id": "conv-1"}, NotFound, "conversation 'conv-1'"),
        ({"max_steps": "many"}, InvalidInput, "max_steps"),
    ],
)
def test_a_bad_export_is_an_error_naming_the_option(
    engram_client: Engram, options: dict[str, Any], error: type[Exception], named: str
) -> None:
    agent = engram_client.agents.create(model=MODEL)
    with pytest.raises(error) as refused:
        engram_client.agents.export_file(agent.id, **options)

    assert named in str(refused.value)


def test_exporting_an_unknown_agent_is_not_found(engram_client: Engram) -> None:
    with pytest.raises(NotFound) as missing:
        engram_client.agents.export_file("agent-missing")

    assert (missing.value.kind, missing.value.ident) == ("agent", "agent-missing")


SHAPES = Path(__file__).parent.parent / "fixtures" / "agent_files"


def test_import_file_takes_a_string_encoded_file_given_as_text(target: str) -> None:
    text = (SHAPES / "string_encoded.af").read_text()

    with Engram.open(target) as client:
        made = client.agents.import_file(file=text)
        agent = client.agents.retrieve(made.agent_ids[0])

    assert agent.name == "juniper_copy"
    assert made.model_extra == made.model_extra | {"adjustments": []}


def test_import_file_strips_unsupported_parts_only_when_asked(target: str) -> None:
    pair = (SHAPES / "round_robin_group.af").read_bytes()

    with Engram.open(target) as client:
        with pytest.raises(InvalidInput) as refused:
            client.agents.import_file(file=pair)
        assert refused.value.field == "file" and "groups.0" in str(refused.value)
        assert client.agents.list() == []
        made = client.agents.import_file(file=pair, strip_unsupported=True)

    assert len(made.agent_ids) == 1
    parts = [item["part"] for item in (made.model_extra or {})["adjustments"]]
    assert parts == ["groups.0", "agents.1"]


def test_a_foreign_embedding_import_logs_its_progress_through_many_passages(
    target: str, caplog: pytest.LogCaptureFixture
) -> None:
    document = json.loads((SHAPES / "foreign_embedding.af").read_text())
    many = [{"text": f"Garden note number {i}."} for i in range(100)]
    document["agents"][0]["engram"]["passages"] = many

    logger = "engram.ops.agent_file.importing"
    with caplog.at_level("INFO", logger=logger), Engram.open(target) as client:
        made = client.agents.import_file(file=json.dumps(document).encode())
        found = client.agents.passages.list(made.agent_ids[0], limit=1000)

    assert len(found) == 100
    progress = [r.getMessage() for r in caplog.records if "passages embedded" in r.getMessage()]
    assert progress[0].startswith("agent file import: 64 of 100 passages embedded")
    assert progress[-1].startswith("agent file import: 100 of 100 passages embedded")
    (note,) = (made.model_extra or {})["adjustments"]
    assert "100 passages re-embedded" in note["detail"]
