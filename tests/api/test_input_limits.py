"""Inputs are bounded, and a bad one changes nothing: oversize bodies are a 413 naming the
setting, oversize or malformed fields a 422 naming the field, a message too large for the
window is refused before the model is asked, and a stored row that cannot be rendered does
not take the agent list down. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from engram.config import normalize_database_url
from tests.api.conftest import (
    MODEL,
    AgentFactory,
    agent_count,
    block_count,
    core_memory,
    detail_text,
    message_count,
    passage_count,
)
from tests.fakes import FakeLLM
from tests.support.backends import Backend
from tests.support.server import EngramServer, serving

SMALL = {
    "ENGRAM_MAX_REQUEST_BYTES": "65536",
    "ENGRAM_MAX_AGENT_FILE_BYTES": "400000",
    "ENGRAM_MAX_MESSAGE_CHARS": "1000",
    "ENGRAM_MAX_PASSAGE_CHARS": "1000",
    "ENGRAM_MAX_BLOCK_CHARS": "1000",
    "ENGRAM_MAX_JSON_FIELD_BYTES": "2048",
}


@pytest.fixture(scope="module")
def small_server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[EngramServer]:
    with serving(
        tmp_path_factory.mktemp("engram-small-limits"),
        fake_llm_server.base_url,
        SMALL,
        database_url=backend.database_url(),
        in_process=True,
    ) as server:
        yield server


@pytest.fixture
def small(small_server: EngramServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with small_server.client() as client:
        yield client


def raw_post(api: httpx.Client, path: str, body: Any, method: str = "POST") -> httpx.Response:
    """JSON as Python's encoder writes it: lone surrogates become \\udXXX escapes."""
    return api.request(
        method, path, content=json.dumps(body), headers={"content-type": "application/json"}
    )


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def assert_422_naming(response: httpx.Response, field: str, *words: str) -> None:
    assert response.status_code == 422, response.text
    detail = detail_text(response)
    assert field in detail, detail
    for word in words:
        assert word in detail, detail


# ---------------------------------------------------------------- 413: the whole body


def test_body_over_the_limit_is_413_naming_the_setting(api: httpx.Client) -> None:
    before = agent_count(api)
    body = {"model": MODEL, "system": "x" * (9 * 1024 * 1024)}
    response = api.post("/v1/agents/", json=body)
    assert response.status_code == 413, response.text
    assert "ENGRAM_MAX_REQUEST_BYTES" in detail_text(response)
    assert "8388608 bytes" in detail_text(response)
    assert agent_count(api) == before


def test_chunked_body_over_the_limit_is_413_while_it_streams(small: httpx.Client) -> None:
    before = agent_count(small)
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"model": "' + MODEL.encode() + b'", "system": "'
        for _ in range(64):  # 4 MiB, far past the 64 KiB limit
            sent += 65536
            yield b"x" * 65536
        yield b'"}'

    try:
        response = small.post(
            "/v1/agents/", content=chunks(), headers={"content-type": "application/json"}
        )
    except httpx.TransportError:
        pytest.fail("the server closed the connection instead of answering 413")
    assert response.status_code == 413, response.text
    assert "ENGRAM_MAX_REQUEST_BYTES" in detail_text(response)
    assert agent_count(small) == before


def agent_file(message_bytes: int, messages: int) -> bytes:
    document = {
        "agents": [
            {
                "id": "agent-0",
                "name": "big-history",
                "llm_config": {
                    "model": "gpt-4o-mini",
                    "model_endpoint_type": "openai",
                    "context_window": 32000,
                    "handle": MODEL,
                },
                "messages": [
                    {"id": f"message-{i}", "role": "user", "content": "y" * message_bytes}
                    for i in range(messages)
                ],
            }
        ]
    }
    return json.dumps(document).encode()


def test_agent_files_have_their_own_larger_limit(small: httpx.Client) -> None:
    before = agent_count(small)
    accepted = agent_file(900, 200)  # ~190 kB: over the request limit, under the file's
    assert 65536 < len(accepted) < 400000
    response = small.post(
        "/v1/agents/import", files={"file": ("a.af", accepted, "application/json")}
    )
    assert response.status_code == 200, response.text
    agent_id = response.json()["agent_ids"][0]
    assert message_count(small, agent_id) == 200
    small.delete(f"/v1/agents/{agent_id}")

    refused = agent_file(900, 500)  # ~470 kB
    response = small.post(
        "/v1/agents/import", files={"file": ("a.af", refused, "application/json")}
    )
    assert response.status_code == 413, response.text
    assert "ENGRAM_MAX_AGENT_FILE_BYTES" in detail_text(response)
    assert agent_count(small) == before


def test_agent_file_blocks_and_passages_are_held_to_the_field_limits(small: httpx.Client) -> None:
    before = agent_count(small)
    document = json.loads(agent_file(10, 1))
    document["blocks"] = [{"id": "block-0", "label": "notes", "value": "b" * 1001, "limit": 5000}]
    document["agents"][0]["block_ids"] = ["block-0"]
    response = small.post(
        "/v1/agents/import",
        files={"file": ("a.af", json.dumps(document).encode(), "application/json")},
    )
    assert_422_naming(response, "file.blocks.0.value", "ENGRAM_MAX_BLOCK_CHARS")
    document = json.loads(agent_file(10, 1))
    document["agents"][0]["engram"] = {"passages": [{"text": "p" * 1001}]}
    response = small.post(
        "/v1/agents/import",
        files={"file": ("a.af", json.dumps(document).encode(), "application/json")},
    )
    assert_422_naming(response, "passages.0.text", "ENGRAM_MAX_PASSAGE_CHARS")
    assert agent_count(small) == before


# ---------------------------------------------------------------- 422: one field


def test_message_text_over_its_limit_is_422_and_nothing_is_stored(
    small: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent = small.post("/v1/agents/", json={"model": MODEL}).json()
    before = message_count(small, agent["id"])
    for body in (
        {"messages": [{"role": "user", "content": "z" * 1001}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "z" * 1001}]}]},
        {"input": "z" * 1001},
    ):
        response = small.post(f"/v1/agents/{agent['id']}/messages", json=body)
        assert_422_naming(response, "content" if "messages" in body else "input")
        assert "1000 characters" in detail_text(response)
        assert "ENGRAM_MAX_MESSAGE_CHARS" in detail_text(response)
    assert message_count(small, agent["id"]) == before
    assert fake_llm.chat_requests == []


def test_passage_text_over_its_limit_is_422_naming_the_setting(small: httpx.Client) -> None:
    agent = small.post("/v1/agents/", json={"model": MODEL}).json()
    response = small.post(f"/v1/agents/{agent['id']}/archival-memory", json={"text": "p" * 1001})
    assert_422_naming(response, "text", "ENGRAM_MAX_PASSAGE_CHARS")
    assert passage_count(small, agent["id"]) == 0
    response = small.post(f"/v1/agents/{agent['id']}/archival-memory", json={"text": "p" * 1000})
    assert response.status_code == 200, response.text


def test_block_value_over_its_limit_is_422_on_create_and_update(small: httpx.Client) -> None:
    blocks = block_count(small)
    big = {"label": "notes", "value": "b" * 1001, "limit": 5000}
    response = small.post("/v1/agents/", json={"model": MODEL, "memory_blocks": [big]})
    assert_422_naming(response, "value", "ENGRAM_MAX_BLOCK_CHARS")
    response = small.post("/v1/blocks/", json=big)
    assert_422_naming(response, "value", "ENGRAM_MAX_BLOCK_CHARS")
    assert block_count(small) == blocks

    agent = small.post(
        "/v1/agents/",
        json={"model": MODEL, "memory_blocks": [{"label": "notes", "value": "ok"}]},
    ).json()
    response = small.patch(
        f"/v1/agents/{agent['id']}/core-memory/blocks/notes", json={"value": "b" * 1001}
    )
    assert_422_naming(response, "value", "ENGRAM_MAX_BLOCK_CHARS")
    assert core_memory(small, agent["id"])["notes"] == "ok"


def test_block_value_over_its_own_limit_is_refused(api: httpx.Client) -> None:
    """A block's ``limit`` (Letta's: the most characters its value may hold) holds too."""
    blocks = block_count(api)
    response = api.post("/v1/blocks/", json={"label": "tiny", "value": "abcdef", "limit": 5})
    assert response.status_code == 422, response.text
    assert block_count(api) == blocks


def test_free_form_json_over_its_size_is_422_naming_the_field(small: httpx.Client) -> None:
    before = agent_count(small)
    response = small.post("/v1/agents/", json={"model": MODEL, "metadata": {"blob": "m" * 4000}})
    assert_422_naming(response, "metadata", "ENGRAM_MAX_JSON_FIELD_BYTES")
    assert agent_count(small) == before


# ---------------------------------------------------------------- deep JSON


@pytest.mark.parametrize("levels", [33, 300, 5000])
def test_deep_metadata_is_422_and_no_agent_is_stored(api: httpx.Client, levels: int) -> None:
    before = agent_count(api)
    nested = '{"a": ' * (levels - 1) + "{}" + "}" * (levels - 1)  # past json.dumps' depth
    body = f'{{"model": "{MODEL}", "metadata": {nested}}}'
    response = api.post("/v1/agents/", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert "32 levels" in detail_text(response)
    assert agent_count(api) == before
    assert api.get("/v1/agents/").status_code == 200


def test_metadata_32_deep_is_accepted(make_agent: AgentFactory, api: httpx.Client) -> None:
    agent = make_agent(metadata=deep(32))
    fetched = api.get(f"/v1/agents/{agent['id']}").json()
    assert fetched["metadata"] == deep(32)


def test_deep_json_is_refused_in_every_free_form_field(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    blocks = block_count(api)
    response = api.post("/v1/blocks/", json={"label": "b", "value": "v", "metadata": deep(40)})
    assert_422_naming(response, "metadata", "32 levels")
    assert block_count(api) == blocks
    response = api.patch(f"/v1/agents/{agent['id']}", json={"metadata": deep(40)})
    assert_422_naming(response, "metadata", "32 levels")
    response = api.patch(f"/v1/agents/{agent['id']}", json={"tool_rules": [deep(40)]})
    assert_422_naming(response, "tool_rules", "32 levels")
    response = api.post("/v1/archives/", json={"name": "deep", "metadata": deep(40)})
    assert_422_naming(response, "metadata", "32 levels")
    fetched = api.get(f"/v1/agents/{agent['id']}").json()
    assert fetched["metadata"] == agent["metadata"]


def store_metadata(server: EngramServer, row_id: str, value: Any, table: str = "agents") -> None:
    """Write a row the API would refuse today, as an older server could have stored it."""
    url = server.env.get("ENGRAM_DATABASE_URL")
    engine = create_engine(
        normalize_database_url(url) if url else f"sqlite:///{server.data_dir / 'engram.db'}"
    )
    cast = "CAST(:m AS JSON)" if url else ":m"
    try:
        with engine.begin() as connection:
            connection.execute(
                text(f"UPDATE {table} SET metadata = {cast} WHERE id = :id"),
                {"m": json.dumps(value), "id": row_id},
            )
    finally:
        engine.dispose()


def test_a_stored_row_that_cannot_be_rendered_does_not_break_the_list(
    api: httpx.Client, engram_server: EngramServer, make_agent: AgentFactory
) -> None:
    broken = make_agent(name="broken-metadata")
    fine = make_agent(name="fine-metadata", metadata={"k": "v"})
    store_metadata(engram_server, broken["id"], deep(400))

    response = api.get("/v1/agents/", params={"limit": 1000})
    assert response.status_code == 200, response.text
    listed = {agent["id"]: agent for agent in response.json()}
    assert listed[fine["id"]]["metadata"] == {"k": "v"}
    assert listed[broken["id"]]["metadata"] is None
    assert listed[broken["id"]]["name"] == "broken-metadata"
    response = api.get(f"/v1/agents/{broken['id']}")
    assert response.status_code == 200, response.text
    assert "cannot be rendered" in engram_server.log()
    # It can be repaired through the API.
    response = api.patch(f"/v1/agents/{broken['id']}", json={"metadata": {"fixed": True}})
    assert response.status_code == 200, response.text
    assert api.get(f"/v1/agents/{broken['id']}").json()["metadata"] == {"fixed": True}


def test_a_block_that_cannot_be_rendered_does_not_break_block_lists(
    api: httpx.Client, engram_server: EngramServer, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        memory_blocks=[{"label": "broken", "value": "b"}, {"label": "fine", "value": "f"}]
    )
    listed = api.get(f"/v1/agents/{agent['id']}/core-memory/blocks").json()
    broken = next(block for block in listed if block["label"] == "broken")
    store_metadata(engram_server, broken["id"], deep(400), table="blocks")
    for path in (f"/v1/agents/{agent['id']}/core-memory/blocks", "/v1/blocks/"):
        response = api.get(path, params={"limit": 1000})
        assert response.status_code == 200, response.text
        by_id = {block["id"]: block for block in response.json()}
        assert by_id[broken["id"]]["metadata"] is None
        assert by_id[broken["id"]]["value"] == "b"
    assert core_memory(api, agent["id"])["fine"] == "f"


# ---------------------------------------------------------------- lone surrogates


def test_lone_surrogates_are_422_naming_the_field_and_change_nothing(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = make_agent(memory_blocks=[{"label": "human", "value": "Ada"}])
    agent_id = agent["id"]
    messages = message_count(api, agent_id)

    response = raw_post(
        api, f"/v1/agents/{agent_id}/core-memory/blocks/human", {"value": "x\ud800y"}, "PATCH"
    )
    assert_422_naming(response, "value", "surrogate")
    assert core_memory(api, agent_id)["human"] == "Ada"

    response = raw_post(
        api,
        f"/v1/agents/{agent_id}/messages",
        {"messages": [{"role": "user", "content": "\udc00"}]},
    )
    assert_422_naming(response, "content", "surrogate")
    assert message_count(api, agent_id) == messages
    assert fake_llm.chat_requests == []

    before = agent_count(api)
    response = raw_post(api, "/v1/agents/", {"model": MODEL, "metadata": {"k\ud800": 1}})
    assert_422_naming(response, "metadata", "surrogate")
    response = raw_post(
        api, "/v1/agents/", {"model": MODEL, "memory_blocks": [{"label": "h", "value": "\ud800"}]}
    )
    assert_422_naming(response, "value")
    assert agent_count(api) == before

    response = raw_post(
        api, f"/v1/agents/{agent_id}/archival-memory", {"text": "t", "tags": ["\ud800"]}
    )
    assert_422_naming(response, "tags", "surrogate")
    assert passage_count(api, agent_id) == 0


def test_surrogate_pairs_are_text(api: httpx.Client, make_agent: AgentFactory) -> None:
    agent = make_agent(memory_blocks=[{"label": "human", "value": "Ada"}])
    response = raw_post(
        api,
        f"/v1/agents/{agent['id']}/core-memory/blocks/human",
        {"value": "likes \U0001f600"},
        "PATCH",
    )
    assert response.status_code == 200, response.text
    assert core_memory(api, agent["id"])["human"] == "likes \U0001f600"


def test_lone_surrogate_in_an_agent_file_is_422(api: httpx.Client) -> None:
    before = agent_count(api)
    document = json.loads(agent_file(10, 1))
    document["agents"][0]["metadata"] = {"note": "\ud800"}
    response = api.post(
        "/v1/agents/import",
        files={"file": ("a.af", json.dumps(document).encode(), "application/json")},
    )
    assert_422_naming(response, "metadata", "surrogate")
    assert agent_count(api) == before


# ---------------------------------------------------------------- the context window


def test_a_message_larger_than_the_window_is_refused_before_the_model_is_asked(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = make_agent(context_window_limit=4000)
    before = message_count(api, agent["id"])
    response = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": "word " * 5000}]},
    )
    assert_422_naming(response, "messages.0.content", "4,000 tokens", "Nothing was stored")
    assert fake_llm.chat_requests == []
    assert message_count(api, agent["id"]) == before
    runs = api.get("/v1/runs/", params={"agent_id": agent["id"]})
    assert runs.status_code == 200 and runs.json() == []
    for path in ("/messages/stream", "/messages/async"):
        response = api.post(
            f"/v1/agents/{agent['id']}{path}",
            json={"messages": [{"role": "user", "content": "word " * 5000}]},
        )
        assert response.status_code == 422, response.text
    assert fake_llm.chat_requests == []


# ---------------------------------------------------------------- LIKE wildcards


def test_query_text_matches_wildcard_characters_literally(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    plain = make_agent(name="plain-agent-name")
    percent = make_agent(name="discount 50% agent")
    underscore = make_agent(name="snake_case_agent")

    def names(query: str) -> set[str]:
        response = api.get("/v1/agents/", params={"query_text": query, "limit": 1000})
        assert response.status_code == 200, response.text
        return {agent["name"] for agent in response.json()}

    assert plain["name"] not in names("%")
    assert names("%") >= {percent["name"]}
    assert underscore["name"] in names("_")
    assert plain["name"] not in names("_")
    assert percent["name"] not in names("_")
    assert names("50%") >= {percent["name"]}
    assert names("snake_case") >= {underscore["name"]}
    assert api.get("/v1/agents/count", params={"query_text": "%"}).json() == len(names("%"))


def test_passage_and_tool_search_match_wildcards_literally(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    for text_ in ("costs 100% more", "plain words here"):
        response = api.post(f"/v1/agents/{agent['id']}/archival-memory", json={"text": text_})
        assert response.status_code == 200, response.text
    response = api.get(f"/v1/agents/{agent['id']}/archival-memory", params={"search": "%"})
    assert response.status_code == 200, response.text
    assert [p["text"] for p in response.json()] == ["costs 100% more"]
    response = api.get("/v1/tools/", params={"search": "_%_", "limit": 1000})
    assert response.status_code == 200, response.text
    assert response.json() == []
