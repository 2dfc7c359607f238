"""Memory metrics and thrash: each run counts what its memory tools did and whether their
hits were used, and the model is told when it repeats a search or undoes its own edit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory
from tests.fakes import FakeLLM, reply
from tests.helpers import send

ZERO = {
    "archival_inserts": 0,
    "archival_searches": 0,
    "conversation_searches": 0,
    "core_edits": 0,
    "hits_returned": 0,
    "hits_used": 0,
    "failed_calls": 0,
    "repeated_searches": 0,
    "reverted_edits": 0,
    "assist_hits": 0,
    "assist_hits_used": 0,
}
CAT_FACT = "Ada's cat is called Miso and hides under the bed during thunderstorms."


@pytest.fixture
def agent(make_agent: AgentFactory) -> dict[str, Any]:
    return make_agent(memory_blocks=[{"label": "human", "value": "Name: Ada", "limit": 500}])


def run_of(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.get(f"/v1/runs/{body['messages'][0]['run_id']}")
    assert response.status_code == 200, response.text
    return response.json()


def tool_returns(body: dict[str, Any]) -> list[str]:
    return [
        m["tool_return"] for m in body["messages"] if m["message_type"] == "tool_return_message"
    ]


def test_a_run_counts_its_memory_work_and_notes_thrash_to_the_model(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    seeded = api.post(
        f"/v1/agents/{agent['id']}/archival-memory",
        json={"text": "The office wifi password is written on the fridge."},
    )
    assert seeded.status_code == 200, seeded.text
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": CAT_FACT}),
        reply.tool_call("archival_memory_search", {"query": "cat name"}),
        reply.tool_call("archival_memory_search", {"query": "  Cat   NAME ", "top_k": 10}),
        reply.tool_call(
            "core_memory_replace",
            {"label": "human", "old_content": "Name: Ada", "new_content": "Name: Ada Lovelace"},
        ),
        reply.tool_call(
            "core_memory_replace",
            {"label": "human", "old_content": "Name: Ada Lovelace", "new_content": "Name: Ada"},
        ),
        reply.tool_call("memory_replace", {"label": "pets", "old_str": "a", "new_str": "b"}),
        reply.text("Your cat is called Miso and hides under the bed when it storms."),
    )

    body = send(api, agent["id"], "What is my cat called?")

    first_search, repeated = tool_returns(body)[1:3]
    assert "already ran this exact search" not in first_search
    assert CAT_FACT in repeated, "a repeated search still carries its results"
    assert "already ran this exact search in step 2 of this run" in repeated
    assert "already ran this exact search" in fake_llm.chat_requests[3].tool_results[-1]
    edit, revert = tool_returns(body)[3:5]
    assert "undid" not in edit
    assert "undid your previous edit of block 'human' (step 4 of this run)" in revert
    assert "undid your previous edit" in fake_llm.chat_requests[5].tool_results[-1]
    assert run_of(api, body)["memory_metrics"] == {
        **ZERO,
        "archival_inserts": 1,
        "archival_searches": 2,
        "core_edits": 2,
        "hits_returned": 2,  # the cat and the wifi passages, each counted once
        "hits_used": 1,  # the answer repeats the cat passage's words; the wifi one is unused
        "failed_calls": 1,
        "repeated_searches": 1,
        "reverted_edits": 1,
    }


def test_a_search_repeated_within_one_step_is_noted_too(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_calls(
            [
                ("conversation_search", {"query": "holiday plans"}),
                ("conversation_search", {"query": "Holiday plans", "limit": 10}),
                ("conversation_search", {"query": "holiday flights"}),
            ]
        ),
        reply.text("Nothing about holidays yet."),
    )

    body = send(api, agent["id"], "Did I mention my holiday plans?")

    first, second, third = tool_returns(body)
    assert "already ran this exact search earlier in this step" in second
    assert "already ran" not in first and "already ran" not in third
    metrics = run_of(api, body)["memory_metrics"]
    assert (metrics["conversation_searches"], metrics["repeated_searches"]) == (3, 1)


def test_a_hit_cited_by_id_counts_as_used(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    created = api.post(
        f"/v1/agents/{agent['id']}/archival-memory", json={"text": "Standup is at 9:30."}
    )
    passage_id = created.json()[0]["id"]
    fake_llm.script(
        reply.tool_call("archival_memory_search", {"query": "standup"}),
        reply.text(f"Per {passage_id}, it starts at half past nine."),
    )

    body = send(api, agent["id"], "When is standup?")

    metrics = run_of(api, body)["memory_metrics"]
    assert (metrics["hits_returned"], metrics["hits_used"]) == (1, 1)


def test_editing_a_block_to_a_new_value_twice_is_no_revert(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Likes tea."}),
        reply.tool_call("core_memory_append", {"label": "human", "content": "Likes cake."}),
        reply.text("Noted."),
    )

    body = send(api, agent["id"], "I like tea and cake.")

    assert not any("undid" in text for text in tool_returns(body))
    metrics = run_of(api, body)["memory_metrics"]
    assert (metrics["core_edits"], metrics["reverted_edits"]) == (2, 0)


def test_the_memory_tools_commands_count_as_edits_and_view_does_not(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=[{"label": "human", "value": "Name: Ada"}], tools=["memory"])
    fake_llm.script(
        reply.tool_call("memory", {"command": "view", "path": "/memories/human"}),
        reply.tool_call(
            "memory",
            {"command": "str_replace", "path": "/memories/human",
             "old_string": "Ada", "new_string": "Ada Lovelace"},
        ),
        reply.tool_call(
            "memory",
            {"command": "create", "path": "/memories/pets", "file_text": "Cat: Miso"},
        ),
        reply.tool_call(
            "memory",
            {"command": "str_replace", "path": "/memories/human",
             "old_string": "Ada Lovelace", "new_string": "Ada"},
        ),
        reply.text("Noted."),
    )  # fmt: skip

    body = send(api, agent["id"], "My cat is Miso; call me Ada Lovelace. No, just Ada.")

    assert "undid your previous edit of block 'human'" in tool_returns(body)[-1]
    metrics = run_of(api, body)["memory_metrics"]
    assert (metrics["core_edits"], metrics["reverted_edits"]) == (3, 1)


def test_a_run_without_memory_tools_has_zero_counts(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("Hello!"))

    body = send(api, agent["id"], "hi")

    run = run_of(api, body)
    assert run["memory_metrics"] == ZERO
    listed = api.get("/v1/runs/", params={"agent_id": agent["id"]}).json()
    assert [r["memory_metrics"] for r in listed if r["id"] == run["id"]] == [ZERO]


def test_each_run_counts_only_its_own_work(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("conversation_search", {"query": "birthday"}),
        reply.text("No."),
        reply.tool_call("conversation_search", {"query": "birthday"}),
        reply.text("Still no."),
    )

    first = send(api, agent["id"], "Did I tell you my birthday?")
    second = send(api, agent["id"], "And now?")

    assert "already ran" not in tool_returns(second)[0], "the earlier run's search is not thrash"
    for body in (first, second):
        metrics = run_of(api, body)["memory_metrics"]
        assert (metrics["conversation_searches"], metrics["repeated_searches"]) == (1, 0)
