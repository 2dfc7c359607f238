"""Hybrid search finds what keywords alone and meaning alone each miss, in both stores.

The fixture is built for that claim.  Half the probes are an exact code or a rare name,
and a short note holds a look-alike ("Thistlethwaite" for "Thistlewood", "RJ2961" for
"RJ-2916"): full text matches only the exact token, while the embedding of a short note
that is nearly all look-alike sits closer to the query than the longer fact that holds the
real one.  The other half are paraphrases sharing no word with any fact: full text finds
nothing, embeddings find the fact by its meaning.  Hybrid must find both halves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import pytest

from tests.api.conftest import AgentFactory
from tests.fakes import FakeLLM, reply

K = 1
MODES = ("fts", "vector", "hybrid")

FACTS = [
    "Invoice from Thistlewood Ltd for the office chairs was paid on Monday.",
    "Thistlethwaite called again.",
    "Ticket RJ-2916: password reset fails on the website.",
    "RJ2961 closed.",
    "Mrs Okonkwo from the Leeds office approved the travel budget.",
    "Okafor is on holiday.",
    "Reference number 8f3k-22qx was issued for the refund.",
    "Reference 8f3kx22q pending.",
    "I've been living on oolong before work lately.",
    "Our puppy Biscuit chews every shoe in the hallway.",
    "The dentist moved my cleaning to March 3.",
    "We relocated to Porto last spring, right by the river.",
]


@dataclass(frozen=True)
class Probe:
    query: str
    target: int  # index into FACTS
    style: str  # "keyword": its words are in the target only; "paraphrase": in no fact


PROBES = [
    Probe("Thistlewood", 0, "keyword"),
    Probe("RJ-2916", 2, "keyword"),
    Probe("Okonkwo", 4, "keyword"),
    Probe("8f3k-22qx", 6, "keyword"),
    Probe("what hot beverage gets me going at dawn", 8, "paraphrase"),
    Probe("which animal shares my house", 9, "paraphrase"),
    Probe("when are my teeth getting checked", 10, "paraphrase"),
    Probe("which city is home nowadays", 11, "paraphrase"),
]


def recall(found: list[list[str]], wanted: list[str]) -> float:
    """Share of probes whose target is among the first K results."""
    hits = sum(1 for ids, target in zip(found, wanted, strict=True) if target in ids[:K])
    return hits / len(wanted)


def assert_hybrid_beats_each_mode(found: dict[str, list[list[str]]], wanted: list[str]) -> None:
    scores = {mode: recall(found[mode], wanted) for mode in MODES}
    ranks = {
        probe.query: {
            mode: (found[mode][i].index(wanted[i]) + 1 if wanted[i] in found[mode][i] else None)
            for mode in MODES
        }
        for i, probe in enumerate(PROBES)
    }
    explained = f"recall@{K} {scores}; rank of each target by mode: {ranks}"
    assert scores["hybrid"] >= scores["fts"] and scores["hybrid"] >= scores["vector"], explained
    assert scores["hybrid"] > scores["fts"] and scores["hybrid"] > scores["vector"], explained


# --------------------------------------------------------------------------- archival


def archival_ids(api: httpx.Client, agent_id: str, query: str, mode: str) -> list[str]:
    response = api.get(
        f"/v1/agents/{agent_id}/archival-memory/search",
        params={"query": query, "top_k": len(FACTS), "search_mode": mode},
    )
    assert response.status_code == 200, response.text
    return [hit["id"] for hit in response.json()["results"]]


def test_hybrid_archival_search_finds_what_either_mode_alone_misses(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    passage_ids = []
    for fact in FACTS:
        response = api.post(f"/v1/agents/{agent['id']}/archival-memory", json={"text": fact})
        assert response.status_code == 200, response.text
        passage_ids.append(response.json()[0]["id"])

    found = {
        mode: [archival_ids(api, agent["id"], probe.query, mode) for probe in PROBES]
        for mode in MODES
    }

    assert_hybrid_beats_each_mode(found, [passage_ids[probe.target] for probe in PROBES])


# --------------------------------------------------------------------------- conversation


def wait_until_embedded(api: httpx.Client, agent_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/v1/agents/{agent_id}/recall-index")
        assert response.status_code == 200, response.text
        status = response.json()
        if status["pending"] == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"messages still waiting for embeddings after {timeout:.0f} s: {status}")
        time.sleep(0.1)


def conversation_ids(api: httpx.Client, agent_id: str, query: str, mode: str) -> list[str]:
    body = {"query": query, "agent_id": agent_id, "search_mode": mode, "limit": 2 * len(FACTS)}
    response = api.post("/v1/messages/search", json=body)
    assert response.status_code == 200, response.text
    return list(dict.fromkeys(hit["message_id"] for hit in response.json()))


def tell(api: httpx.Client, agent_id: str, facts: list[str]) -> list[str]:
    """Send each fact as a user message; returns their stored ids, in order."""
    for fact in facts:
        response = api.post(f"/v1/agents/{agent_id}/messages", json={"input": fact})
        assert response.status_code == 200, response.text
    listed = api.get(f"/v1/agents/{agent_id}/messages", params={"order": "asc", "limit": 1000})
    assert listed.status_code == 200, listed.text
    ids = {m["content"]: m["id"] for m in listed.json() if m["message_type"] == "user_message"}
    return [ids[fact] for fact in facts]


def test_hybrid_conversation_search_finds_what_either_mode_alone_misses(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(*(reply.text("Noted.") for _ in FACTS))
    message_ids = tell(api, agent["id"], FACTS)
    wait_until_embedded(api, agent["id"])

    found = {
        mode: [conversation_ids(api, agent["id"], probe.query, mode) for probe in PROBES]
        for mode in MODES
    }

    assert_hybrid_beats_each_mode(found, [message_ids[probe.target] for probe in PROBES])
