"""Tool rules enforced by the agent loop: tools offered, calls refused, turns ended or
kept open, as the agent's rules say."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import AgentFactory, send_input
from tests.fakes import FakeLLM, reply


def offered(request: Any) -> list[str]:
    return sorted(request.tool_names)


def test_run_first_offers_only_that_tool_on_the_first_step(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=[{"type": "run_first", "tool_name": "conversation_search"}])
    fake_llm.script(
        reply.tool_call("conversation_search", {"query": "tea"}),
        reply.text("Nothing about tea yet."),
    )

    send_input(api, agent["id"], "Did I mention tea?")

    first, second = fake_llm.chat_requests
    assert offered(first) == ["conversation_search"]
    assert len(offered(second)) > 1


def test_a_call_breaking_a_rule_is_refused_and_not_run(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=[{"type": "run_first", "tool_name": "conversation_search"}])
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "should not be stored"}),
        reply.text("Sorry."),
    )

    answer = send_input(api, agent["id"], "Save this.")

    result = fake_llm.chat_requests[-1].tool_results[-1]
    assert "tool rules do not allow calling 'archival_memory_insert'" in result
    assert "conversation_search" in result
    assert api.get(f"/v1/agents/{agent['id']}/archival-memory").json() == []
    assert answer["stop_reason"]["stop_reason"] == "end_turn"


def test_a_terminal_tool_ends_the_turn(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=[{"type": "exit_loop", "tool_name": "archival_memory_insert"}])
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "Likes tea."}),
        reply.text("never asked for"),
    )

    answer = send_input(api, agent["id"], "I like tea.")

    assert len(fake_llm.chat_requests) == 1
    assert answer["stop_reason"]["stop_reason"] == "end_turn"
    assert len(api.get(f"/v1/agents/{agent['id']}/archival-memory").json()) == 1


def test_child_rule_limits_the_next_step(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        tool_rules=[
            {
                "type": "constrain_child_tools",
                "tool_name": "conversation_search",
                "children": ["archival_memory_search"],
            }
        ]
    )
    fake_llm.script(
        reply.tool_call("conversation_search", {"query": "tea"}),
        reply.tool_call("archival_memory_search", {"query": "tea"}),
        reply.text("Done."),
    )

    send_input(api, agent["id"], "What about tea?")

    assert offered(fake_llm.chat_requests[1]) == ["archival_memory_search"]
    assert len(offered(fake_llm.chat_requests[2])) > 1


def test_max_count_per_step_refuses_the_extra_calls(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        tool_rules=[
            {
                "type": "max_count_per_step",
                "tool_name": "archival_memory_insert",
                "max_count_limit": 1,
            }
        ]
    )
    fake_llm.script(
        reply.tool_calls(
            [
                ("archival_memory_insert", {"content": "one"}),
                ("archival_memory_insert", {"content": "two"}),
            ]
        ),
        reply.text("Saved one."),
    )

    send_input(api, agent["id"], "Save two things.")

    results = fake_llm.chat_requests[-1].tool_results
    assert results[0].startswith("Stored")
    assert "at most 1 times per step" in results[1]
    passages = api.get(f"/v1/agents/{agent['id']}/archival-memory").json()
    assert [p["text"] for p in passages] == ["one"]


def test_required_before_exit_keeps_the_turn_open_until_called(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        tool_rules=[{"type": "required_before_exit", "tool_name": "archival_memory_insert"}]
    )
    fake_llm.script(
        reply.text("Bye!"),
        reply.tool_call("archival_memory_insert", {"content": "Said bye."}),
        reply.text("Bye, for real."),
    )

    answer = send_input(api, agent["id"], "Goodbye.")

    assert len(fake_llm.chat_requests) == 3
    assert "must call 'archival_memory_insert'" in fake_llm.chat_requests[1].all_text
    assert answer["stop_reason"]["stop_reason"] == "end_turn"
    assert answer["messages"][-1]["content"] == "Bye, for real."


def test_bad_rules_are_422_naming_the_field(api: httpx.Client, make_agent: AgentFactory) -> None:
    bad = api.post(
        "/v1/agents/",
        json={
            "model": "openai/gpt-4o-mini",
            "tool_rules": [{"type": "teleport", "tool_name": "x"}],
        },
    )
    assert bad.status_code == 422
    assert "tool_rules[0].type" in bad.text
    agent = make_agent()
    patched = api.patch(
        f"/v1/agents/{agent['id']}",
        json={"tool_rules": [{"type": "constrain_child_tools", "tool_name": "x"}]},
    )
    assert patched.status_code == 422
    assert "tool_rules[0].children" in patched.text
    assert api.get(f"/v1/agents/{agent['id']}").json()["tool_rules"] == []
