"""The reranking stage of memory search, against a reranking server on a loopback port
(tests/fakes/reranker.py, which scores by shared words plus a boost word a test picks).

Archival search (the tool, the agent route, ``POST /v1/passages/search``) and recall search
(the tool, ``POST /v1/messages/search``) put the fused head in the reranker's order; only
the top candidates are sent; a failing reranker leaves the fused order, marked and logged,
or fails the search when the server is told to; the step's trace shows its time; and a
search never reaches past its scope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import MODEL
from tests.compat.conftest import letta_client_for
from tests.fakes import FakeLLM, reply
from tests.fakes.reranker import FakeReranker
from tests.helpers import send
from tests.support.backends import Backend
from tests.support.server import RunningServer, serving

QUERY = "violet umbrella"
WANTED = "The lighthouse keeper lent me an umbrella."
OTHERS = [
    "My violet umbrella has a wooden handle.",
    "The violet umbrella was a gift from my aunt.",
    "I left the violet umbrella on the bus once.",
    "A violet umbrella is easy to spot in a crowd.",
]
HEADER = "X-Engram-Rerank"


@pytest.fixture(scope="module")
def reranker() -> Iterator[FakeReranker]:
    fake = FakeReranker()
    yield fake
    fake.close()


def reranked_env(fake: FakeReranker, **more: str) -> dict[str, str]:
    return {
        "ENGRAM_RERANKER_URL": fake.base_url,
        "ENGRAM_RERANKER_KIND": "tei",
        "ENGRAM_RERANKER_MODEL": "fake-rr",
        "ENGRAM_RERANKER_TIMEOUT_SECONDS": "2",
        "ENGRAM_RERANKER_MAX_RETRIES": "1",
        **more,
    }


@pytest.fixture(scope="module")
def server(
    fake_llm_server: FakeLLM,
    tmp_path_factory: pytest.TempPathFactory,
    backend: Backend,
    reranker: FakeReranker,
) -> Iterator[RunningServer]:
    """A server reranking with the fake, keeping the fused order when it fails."""
    with serving(
        tmp_path_factory.mktemp("rerank"),
        fake_llm_server.base_url,
        reranked_env(reranker),
        database_url=backend.database_url(),
        in_process=True,
    ) as engram:
        yield engram


@pytest.fixture
def client(
    server: RunningServer, fake_llm: FakeLLM, reranker: FakeReranker
) -> Iterator[httpx.Client]:
    reranker.reset()
    with server.client() as http:
        yield http


def new_agent(http: httpx.Client, texts: list[str], **fields: Any) -> str:
    body = {"model": MODEL, "tools": ["archival_memory_search", "conversation_search"], **fields}
    response = http.post("/v1/agents/", json=body)
    assert response.status_code == 200, response.text
    agent_id = str(response.json()["id"])
    for text in texts:
        added = http.post(f"/v1/agents/{agent_id}/archival-memory", json={"text": text})
        assert added.status_code == 200, added.text
    return agent_id


def agent_search(http: httpx.Client, agent_id: str, **params: Any) -> httpx.Response:
    response = http.get(
        f"/v1/agents/{agent_id}/archival-memory/search", params={"query": QUERY, **params}
    )
    assert response.status_code == 200, response.text
    return response


def contents(response: httpx.Response) -> list[str]:
    return [result["content"] for result in response.json()["results"]]


def opt_out(http: httpx.Client, agent_id: str) -> None:
    response = http.patch(f"/v1/agents/{agent_id}", json={"metadata": {"rerank": False}})
    assert response.status_code == 200, response.text


# --------------------------------------------------------------------------- reordering


def test_archival_search_comes_back_in_the_rerankers_order(
    client: httpx.Client, reranker: FakeReranker
) -> None:
    agent_id = new_agent(client, [*OTHERS, WANTED])
    fused = contents(agent_search(client, agent_id, top_k=3))
    assert fused[0] != WANTED  # keywords and meaning alone put it lower
    reranker.boost = {"lighthouse"}

    found = agent_search(client, agent_id, top_k=3)

    texts = contents(found)
    assert texts[0] == WANTED and len(texts) == 3
    scores = [reranker.score(QUERY, text) for text in texts]
    assert scores == sorted(scores, reverse=True)
    assert found.headers[HEADER].startswith("reranked; reranker=tei:fake-rr; candidates=5;")
    assert reranker.requests[-1]["body"]["query"] == QUERY


def test_an_agent_that_opts_out_keeps_the_fused_order_and_asks_no_reranker(
    client: httpx.Client, reranker: FakeReranker
) -> None:
    agent_id = new_agent(client, [*OTHERS, WANTED], metadata={"rerank": False})
    reranker.boost = {"lighthouse"}
    reranker.requests.clear()

    found = agent_search(client, agent_id, top_k=3)

    assert contents(found)[0] != WANTED
    assert HEADER not in found.headers
    assert reranker.requests == []


def test_passage_search_through_letta_client_shows_the_rerankers_score_and_fused_rank(
    server: RunningServer, client: httpx.Client, reranker: FakeReranker
) -> None:
    agent_id = new_agent(client, [*OTHERS, WANTED])
    reranker.boost = {"lighthouse"}
    with letta_client_for(server) as letta:
        results = letta.passages.search(query=QUERY, agent_id=agent_id, limit=2)

    assert [r.passage.text for r in results][0] == WANTED
    top = results[0]
    assert top.score == reranker.score(QUERY, WANTED)
    note = (top.metadata or {})["rerank"]
    assert note["status"] == "reranked" and note["reranker"] == "tei:fake-rr"
    assert note["fused_rank"] > 1 and note["candidates"] == 5
    assert note["duration_ms"] >= 0


def test_only_the_top_fifty_candidates_are_sent_unless_more_results_are_asked_for(
    client: httpx.Client, reranker: FakeReranker
) -> None:
    texts = [f"Umbrella note number {i}: a violet umbrella, kept safe." for i in range(55)]
    agent_id = new_agent(client, texts)
    reranker.requests.clear()

    few = agent_search(client, agent_id, top_k=5)
    many = agent_search(client, agent_id, top_k=54)

    sent, sent_for_many = reranker.documents()
    assert len(sent) == 50 and len(set(sent)) == 50
    assert set(contents(few)) <= set(sent) and len(contents(few)) == 5
    assert len(sent_for_many) == 54 and len(contents(many)) == 54


def test_recall_search_comes_back_in_the_rerankers_order(
    client: httpx.Client, fake_llm: FakeLLM, reranker: FakeReranker
) -> None:
    agent_id = new_agent(client, [])
    for text in [*OTHERS, WANTED]:
        fake_llm.script(reply.text("Noted."))
        send(client, agent_id, text)
    reranker.boost = {"lighthouse"}

    response = client.post(
        "/v1/messages/search", json={"query": QUERY, "agent_id": agent_id, "limit": 3}
    )

    assert response.status_code == 200, response.text
    found = response.json()
    assert found[0]["content"] == WANTED
    assert response.headers[HEADER].startswith("reranked; reranker=tei:fake-rr")


# --------------------------------------------------------------------------- the tools


def test_the_search_tools_rerank_and_the_steps_trace_shows_the_time(
    client: httpx.Client, fake_llm: FakeLLM, reranker: FakeReranker
) -> None:
    agent_id = new_agent(client, [*OTHERS, WANTED])
    reranker.boost = {"lighthouse"}
    reranker.delay = 0.05
    fake_llm.script(
        reply.tool_call("archival_memory_search", {"query": QUERY, "top_k": 2}),
        reply.text("Found it."),
    )

    body = send(client, agent_id, "Who lent me an umbrella?")

    (result,) = [m for m in body["messages"] if m["message_type"] == "tool_return_message"]
    assert result["status"] == "success"
    assert [hit["content"] for hit in _json(result["tool_return"])][0] == WANTED
    run_id = body["messages"][0]["run_id"]
    spans = client.get(f"/v1/runs/{run_id}/trace").json()
    (rerank,) = [span for span in spans if span["name"] == "rerank"]
    assert rerank["parent"] == "tools" and rerank["status"] == "reranked"
    assert rerank["reranker"] == "tei:fake-rr" and rerank["candidates"] == 5
    assert rerank["duration_ns"] >= 50_000_000
    tools = next(s for s in spans if s["name"] == "tools" and s["step_id"] == rerank["step_id"])
    assert tools["start_ns"] <= rerank["start_ns"]
    assert rerank["start_ns"] + rerank["duration_ns"] <= tools["start_ns"] + tools["duration_ns"]
    metrics = client.get(f"/v1/steps/{rerank['step_id']}/metrics").json()
    assert metrics["rerank_ns"] == rerank["duration_ns"]


def test_conversation_search_tool_reranks_the_agents_history(
    client: httpx.Client, fake_llm: FakeLLM, reranker: FakeReranker
) -> None:
    agent_id = new_agent(client, [])
    for text in [*OTHERS, WANTED]:
        fake_llm.script(reply.text("Noted."))
        send(client, agent_id, text)
    reranker.boost = {"lighthouse"}
    fake_llm.script(
        reply.tool_call("conversation_search", {"query": QUERY, "limit": 2}),
        reply.text("Found it."),
    )

    body = send(client, agent_id, "Who lent me that thing?")

    (result,) = [m for m in body["messages"] if m["message_type"] == "tool_return_message"]
    assert [hit["content"] for hit in _json(result["tool_return"])][0] == WANTED


# --------------------------------------------------------------------------- failures


def test_a_failing_reranker_leaves_the_fused_order_marked_and_logged(
    server: RunningServer, client: httpx.Client, fake_llm: FakeLLM, reranker: FakeReranker
) -> None:
    agent_id = new_agent(client, [*OTHERS, WANTED])
    reranker.boost = {"lighthouse"}
    reranker.failures = [500, 500]

    failed = agent_search(client, agent_id, top_k=3)

    assert len(reranker.requests) == 2  # tried once more, then given up
    header = failed.headers[HEADER]
    assert header.startswith("failed; reranker=tei:fake-rr") and "HTTP 500" in header
    assert "reranking skipped" in server.log()
    opt_out(client, agent_id)
    assert contents(failed) == contents(agent_search(client, agent_id, top_k=3))

    client.patch(f"/v1/agents/{agent_id}", json={"metadata": {}})
    reranker.failures = [503, 503]
    fake_llm.script(
        reply.tool_call("archival_memory_search", {"query": QUERY, "top_k": 3}),
        reply.text("Done."),
    )
    body = send(client, agent_id, "Search, please.")
    (result,) = [m for m in body["messages"] if m["message_type"] == "tool_return_message"]
    assert result["status"] == "success"
    assert [hit["content"] for hit in _json(result["tool_return"])] == contents(failed)
    spans = client.get(f"/v1/runs/{body['messages'][0]['run_id']}/trace").json()
    (rerank,) = [span for span in spans if span["name"] == "rerank"]
    assert rerank["status"] == "failed" and "HTTP 503" in rerank["error"]


def test_with_on_failure_error_a_failing_reranker_fails_the_search_clearly(
    fake_llm_server: FakeLLM,
    fake_llm: FakeLLM,
    tmp_path: Any,
    backend: Backend,
    reranker: FakeReranker,
) -> None:
    reranker.reset()
    env = reranked_env(reranker, ENGRAM_RERANKER_ON_FAILURE="error", ENGRAM_RERANKER_KIND="cohere")
    with (
        serving(
            tmp_path,
            fake_llm_server.base_url,
            env,
            database_url=backend.database_url(),
            in_process=True,
        ) as strict,
        strict.client() as http,
    ):
        agent_id = new_agent(http, [*OTHERS, WANTED])
        reranker.failures = [500, 500]
        refused = http.get(f"/v1/agents/{agent_id}/archival-memory/search", params={"query": QUERY})
        assert refused.status_code == 502
        assert "cohere:fake-rr" in refused.text and "HTTP 500" in refused.text
        assert reranker.requests[-1]["path"] == "/v2/rerank"

        reranker.failures = [500, 500]
        fake_llm.script(
            reply.tool_call("archival_memory_search", {"query": QUERY}), reply.text("Sorry.")
        )
        body = send(http, agent_id, "Search, please.")
        (result,) = [m for m in body["messages"] if m["message_type"] == "tool_return_message"]
        assert result["status"] == "error" and "HTTP 500" in result["tool_return"]

        reranker.boost = {"lighthouse"}
        assert contents(agent_search(http, agent_id))[0] == WANTED  # works again


# --------------------------------------------------------------------------- scope


def test_reranking_never_reaches_another_agents_memory(
    client: httpx.Client, fake_llm: FakeLLM, reranker: FakeReranker
) -> None:
    mine = new_agent(client, OTHERS)
    theirs_text = "The lighthouse keeper's violet umbrella is in the other agent's memory."
    new_agent(client, [theirs_text])
    reranker.boost = {"lighthouse"}

    found = contents(agent_search(client, mine, top_k=10))
    passages = client.post(
        "/v1/passages/search", json={"query": QUERY, "agent_id": mine, "limit": 10}
    ).json()
    fake_llm.script(
        reply.tool_call("archival_memory_search", {"query": QUERY}), reply.text("Done.")
    )
    body = send(client, mine, "Search, please.")

    assert theirs_text not in found
    assert theirs_text not in [r["passage"]["text"] for r in passages]
    (result,) = [m for m in body["messages"] if m["message_type"] == "tool_return_message"]
    assert theirs_text not in result["tool_return"]
    assert all(theirs_text not in docs for docs in reranker.documents())
    assert sorted(found) == sorted(OTHERS)


def _json(text: str) -> list[dict[str, Any]]:
    import json

    return list(json.loads(text))
