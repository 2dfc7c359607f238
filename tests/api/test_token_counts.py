"""Engram's prompt count against the provider's: paging decides on the former, so it must
stay close to the latter. The fake reports what OpenAI's accounting gives (see
tests/fakes/prompt_tokens.py); each step stores both numbers."""

from __future__ import annotations

import httpx

from tests.api.conftest import AgentFactory, send_input
from tests.fakes import FakeLLM, reply

MAX_ERROR = 0.10


def steps_of(api: httpx.Client, run_id: str) -> list[dict]:
    response = api.get(f"/v1/runs/{run_id}/steps")
    assert response.status_code == 200, response.text
    return response.json()


def test_counted_prompt_tokens_stay_within_ten_percent_of_the_providers(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        memory_blocks=[
            {"label": "persona", "value": "A patient support agent for a bicycle shop."},
            {"label": "human", "value": "Name: Sam. Rides a steel touring bike.", "limit": 2000},
        ]
    )
    fake_llm.script(
        reply.text("Hello Sam! How can I help with your bike today?"),
        reply.tool_call(
            "core_memory_append", {"label": "human", "content": "Commutes 12 km each way."}
        ),
        reply.tool_call("archival_memory_insert", {"content": "Sam's chain was replaced in May."}),
        reply.text("Noted both. Anything else?"),
        reply.tool_call("conversation_search", {"query": "chain"}),
        reply.text("Your chain was replaced in May."),
    )
    run_ids = []
    for text in (
        "Hi, I'm Sam.",
        "I commute 12 km each way, and my chain was replaced in May; please remember both.",
        "When was my chain replaced?",
    ):
        run_ids.append(send_input(api, agent["id"], text)["messages"][0]["run_id"])

    steps = [step for run_id in run_ids for step in steps_of(api, run_id)]
    assert len(steps) == 6
    for step in steps:
        counted, reported = step["counted_prompt_tokens"], step["prompt_tokens"]
        assert reported > 500  # the system prompt, memory and tool schemas are in it
        assert abs(counted - reported) / reported < MAX_ERROR, (counted, reported)
