"""Recall assist: with each user message the server searches archival memory and evicted
conversation, and places the best hits, within a token budget, in a marked prompt section."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engram.runtime.context import count_text
from tests.api.conftest import MODEL, AgentFactory, detail_text
from tests.fakes import FakeLLM, reply
from tests.fakes.replies import FakeRequest
from tests.helpers import send
from tests.support.backends import Backend
from tests.support.server import EngramServer, RunningServer, serving

SECTION = re.compile(r"<recalled_memory>\n.*?\n</recalled_memory>", re.DOTALL)
HEADER = "Recalled from memory for this message"

FACTS = [
    "My dog Biscuit is a golden retriever who loves running on the beach at dawn, "
    "chasing gulls and digging holes until he is too tired to walk home.",
    "The quarterly tax filing for the company is due on April 15, and the accountant "
    "needs the receipts folder and the bank statements a week before that.",
    "I am severely allergic to peanuts and carry an epinephrine pen in my backpack.",
    "Our team deploys the backend service every Tuesday afternoon after the standup.",
    "Grandma's apple pie recipe uses cinnamon, nutmeg and a butter crust baked twice.",
]


def seed(api: httpx.Client, agent_id: str, texts: list[str]) -> None:
    for text in texts:
        response = api.post(f"/v1/agents/{agent_id}/archival-memory", json={"text": text})
        assert response.status_code == 200, response.text


def section_of(request: FakeRequest) -> str | None:
    found = SECTION.findall(request.system_text)
    assert len(found) <= 1
    return found[0] if found else None


def hit_lines(section: str) -> list[str]:
    return [line for line in section.splitlines() if line.startswith("- [")]


def assisted_agent(make_agent: AgentFactory, **assist: Any) -> dict[str, Any]:
    return make_agent(recall_assist={"enabled": True, **assist})


def run_metrics(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    run = api.get(f"/v1/runs/{body['messages'][0]['run_id']}").json()
    return dict(run["memory_metrics"])


# --------------------------------------------------------------------------- archival hits


@pytest.mark.parametrize("budget", [60, 80, 150, 400])
def test_recall_assist_respects_its_budget(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, budget: int
) -> None:
    agent = assisted_agent(make_agent, token_budget=budget, max_hits=5)
    seed(api, agent["id"], FACTS)
    fake_llm.script(reply.text("Biscuit!"))

    send(api, agent["id"], "What is my dog called and what does he love?")

    section = section_of(fake_llm.chat_requests[0])
    assert section is not None
    assert count_text(agent["llm_config"]["model"], section) <= budget
    assert HEADER in section
    assert "Biscuit" in hit_lines(section)[0], "the best hit comes first"


def test_a_budget_too_small_for_any_hit_leaves_the_section_out(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = assisted_agent(make_agent, token_budget=16)
    seed(api, agent["id"], FACTS)
    fake_llm.script(reply.text("Biscuit!"))

    body = send(api, agent["id"], "What is my dog called?")

    assert section_of(fake_llm.chat_requests[0]) is None
    assert run_metrics(api, body)["assist_hits"] == 0


def test_a_larger_budget_brings_more_hits(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    counts = []
    for budget in (90, 400):
        agent = assisted_agent(make_agent, token_budget=budget, max_hits=5)
        seed(api, agent["id"], FACTS)
        fake_llm.script(reply.text("Biscuit!"))
        body = send(api, agent["id"], "What is my dog called?")
        section = section_of(fake_llm.chat_requests[-1])
        assert section is not None
        counts.append(len(hit_lines(section)))
        assert run_metrics(api, body)["assist_hits"] == counts[-1]
    small, large = counts
    assert 1 <= small < large <= 5


def test_max_hits_caps_the_section(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = assisted_agent(make_agent, token_budget=2000, max_hits=2)
    seed(api, agent["id"], FACTS)
    fake_llm.script(reply.text("ok"))

    send(api, agent["id"], "Tell me about my dog.")

    section = section_of(fake_llm.chat_requests[0])
    assert section is not None and len(hit_lines(section)) == 2


def test_the_section_is_in_every_step_of_the_turn_and_never_in_history(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = assisted_agent(make_agent, token_budget=300)
    seed(api, agent["id"], FACTS)
    fake_llm.script(
        reply.tool_call("archival_memory_search", {"query": "dog"}),
        reply.text("Your dog Biscuit is a golden retriever who loves the beach."),
        reply.text("Anything else?"),
    )

    body = send(api, agent["id"], "What breed is my dog?")

    first, second = fake_llm.chat_requests[:2]
    assert section_of(first) is not None and section_of(first) == section_of(second)
    stored = api.get(f"/v1/agents/{agent['id']}/messages", params={"limit": 100}).json()
    assert not any(HEADER in str(message) for message in stored)
    metrics = run_metrics(api, body)
    assert metrics["assist_hits"] >= 1 and metrics["assist_hits_used"] == 1

    send(api, agent["id"], "Thanks, and when are taxes due?")

    later = section_of(fake_llm.chat_requests[2])
    assert later is not None and "April 15" in hit_lines(later)[0], "searched anew each turn"


# --------------------------------------------------------------------------- recall hits


def test_evicted_conversation_is_recalled_and_in_window_messages_are_not(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        recall_assist={"enabled": True, "token_budget": 300, "sources": ["recall"]},
        compaction_settings={"keep_last_user_turns": 0},
    )
    fake_llm.script(
        reply.text("Lisbon is lovely."),
        reply.text("Noted about the marathon."),
        reply.text("Summary: the user talked about family and running."),
    )
    send(api, agent["id"], "My sister Greta lives in Lisbon near the river.")
    send(api, agent["id"], "I am training for the Berlin marathon this autumn.")
    folded = api.post(f"/v1/agents/{agent['id']}/summarize")
    assert folded.status_code == 200, folded.text
    assert folded.json()["num_messages_after"] < folded.json()["num_messages_before"]
    fake_llm.script(reply.text("In Lisbon."))

    send(api, agent["id"], "Where does my sister Greta live?")

    section = section_of(fake_llm.chat_requests[-1])
    assert section is not None
    lines = hit_lines(section)
    assert any("conversation, user" in line and "Greta lives in Lisbon" in line for line in lines)
    assert not any("marathon" in line for line in lines), "still in the window: not repeated"
    assert all(line.startswith("- [conversation") for line in lines), "archival was not asked"


# --------------------------------------------------------------------------- off and invalid


@pytest.mark.parametrize("setting", [None, {"enabled": False, "token_budget": 300}])
def test_without_recall_assist_the_prompt_has_no_section(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, setting: Any
) -> None:
    agent = make_agent(**({"recall_assist": setting} if setting else {}))
    seed(api, agent["id"], FACTS)
    fake_llm.script(reply.text("ok"))

    body = send(api, agent["id"], "What is my dog called?")

    assert "<recalled_memory>" not in fake_llm.chat_requests[0].system_text
    assert HEADER not in fake_llm.chat_requests[0].all_text
    assert run_metrics(api, body)["assist_hits"] == 0


def test_an_agent_with_nothing_to_recall_gets_no_section(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = assisted_agent(make_agent)
    fake_llm.script(reply.text("Nice to meet you."))

    send(api, agent["id"], "Hello, I am new here.")

    assert section_of(fake_llm.chat_requests[0]) is None


def test_patch_turns_recall_assist_on(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    seed(api, agent["id"], FACTS)
    patched = api.patch(
        f"/v1/agents/{agent['id']}", json={"recall_assist": {"enabled": True, "max_hits": 1}}
    )
    assert patched.status_code == 200, patched.text
    fake_llm.script(reply.text("ok"))

    send(api, agent["id"], "Am I allergic to anything?")

    section = section_of(fake_llm.chat_requests[0])
    assert section is not None
    assert [line for line in hit_lines(section) if "peanuts" in line] == hit_lines(section)


# --------------------------------------------------------------------------- embedding


PROVIDER_EMBEDDING = "openai/text-embedding-3-small"
"""Embedded by the fake LLM server, so the test sees each embedding request."""


def embeddings_before_first_chat(fake_llm: FakeLLM, text: str) -> int:
    first_chat = fake_llm.chat_requests[0].index
    return sum(
        1
        for request in fake_llm.embedding_requests
        if request.index < first_chat and text in request.input_texts
    )


@pytest.fixture(scope="module")
def unindexed_server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[RunningServer]:
    """A server whose recall indexer is off: the indexer embeds each committed message in
    the background, and would race the assist to embed the question before the first
    model call; here every embedding of the question is the assist's."""
    with serving(
        tmp_path_factory.mktemp("unindexed"),
        fake_llm_server.base_url,
        {"ENGRAM_RECALL_EMBEDDINGS": "false"},
        database_url=backend.database_url(),
        in_process=True,
    ) as engram:
        yield engram


@pytest.mark.parametrize("enabled", [True, False])
def test_the_user_message_is_embedded_before_the_first_step_only_with_assist_on(
    unindexed_server: RunningServer, fake_llm: FakeLLM, enabled: bool
) -> None:
    with unindexed_server.client() as client:
        created = client.post(
            "/v1/agents/",
            json={
                "model": MODEL,
                "embedding": PROVIDER_EMBEDDING,
                "recall_assist": {"enabled": enabled},
            },
        )
        assert created.status_code == 200, created.text
        agent = created.json()
        seed(client, agent["id"], FACTS)
        fake_llm.script(reply.text("Biscuit."))
        question = "Which dog breed do I have, again?"

        send(client, agent["id"], question)

    assert embeddings_before_first_chat(fake_llm, question) == (1 if enabled else 0)
    assert (section_of(fake_llm.chat_requests[0]) is not None) == enabled


def test_a_failing_embedder_costs_the_turn_its_section_not_its_answer(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, engram_server: EngramServer
) -> None:
    agent = make_agent(embedding=PROVIDER_EMBEDDING, recall_assist={"enabled": True})
    seed(api, agent["id"], FACTS)
    question = "Which dog breed do I have, again?"
    fake_llm.when(
        lambda request: question in request.input_texts,
        reply.error(400, "embedding input rejected"),
        endpoint="embeddings",
    )
    fake_llm.script(reply.text("A golden retriever, I believe."))

    body = send(api, agent["id"], question)

    assert body["messages"][-1]["content"] == "A golden retriever, I believe."
    assert section_of(fake_llm.chat_requests[0]) is None
    assert f"agent {agent['id']}: recall assist skipped" in engram_server.log()


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_budget_below_16_tokens_is_refused(
    api: httpx.Client, make_agent: AgentFactory, method: str
) -> None:
    body = {"recall_assist": {"enabled": True, "token_budget": 8}}
    if method == "post":
        response = api.post("/v1/agents/", json={"model": "openai/gpt-4o-mini", **body})
    else:
        response = api.patch(f"/v1/agents/{make_agent()['id']}", json=body)

    assert response.status_code == 422, response.text
    assert "recall_assist.token_budget" in detail_text(response)
