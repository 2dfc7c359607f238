"""Results the client ran itself: a waiting call answered with a tool return is recorded
as given, never run, and the loop goes on; mixed with approvals in one answer."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import AgentFactory, detail_text, send_input
from tests.fakes import FakeLLM, reply

NEEDS_APPROVAL = [
    {"type": "requires_approval", "tool_name": "archival_memory_insert"},
    {"type": "requires_approval", "tool_name": "core_memory_append"},
]


def passages(api: httpx.Client, agent_id: str) -> list[str]:
    return [p["text"] for p in api.get(f"/v1/agents/{agent_id}/archival-memory").json()]


def answer(api: httpx.Client, agent_id: str, message: dict[str, Any]) -> httpx.Response:
    return api.post(f"/v1/agents/{agent_id}/messages", json={"messages": [message]})


def returned(call_id: str, text: str, status: str = "success", **extra: Any) -> dict[str, Any]:
    return {"type": "tool", "tool_call_id": call_id, "tool_return": text, "status": status, **extra}


def ask_twice(api: httpx.Client, fake_llm: FakeLLM, agent_id: str) -> None:
    """One model response with two calls that both wait."""
    fake_llm.script(
        reply.tool_calls(
            [
                reply.tool_call("archival_memory_insert", {"content": "Likes tea."}, id="c_save"),
                reply.tool_call(
                    "core_memory_append", {"label": "human", "content": "Tea."}, id="c_note"
                ),
            ]
        )
    )
    asked = send_input(api, agent_id, "Remember that I like tea.")
    assert asked["stop_reason"]["stop_reason"] == "requires_approval"
    # Both calls wait in one request, as Letta shows parallel calls that need approval.
    (request,) = [m for m in asked["messages"] if m["message_type"] == "approval_request_message"]
    assert [call["tool_call_id"] for call in request["tool_calls"]] == ["c_save", "c_note"]
    assert request["tool_call"]["tool_call_id"] == "c_save"


def test_a_tool_return_is_recorded_without_running_the_tool(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL[:1])
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "Likes tea."}, id="c_save")
    )
    send_input(api, agent["id"], "Remember that I like tea.")
    fake_llm.script(reply.text("Saved it on your side."))
    given = returned("c_save", "stored in the client's notes", stdout=["wrote 1 line"])

    response = answer(api, agent["id"], {"type": "approval", "approvals": [given]})

    assert response.status_code == 200, response.text
    stored, result, said = response.json()["messages"]
    assert stored["message_type"] == "approval_response_message"
    assert stored["approvals"] == [{**given, "stderr": None}]
    assert result["message_type"] == "tool_return_message"
    assert (result["tool_return"], result["status"]) == ("stored in the client's notes", "success")
    assert said["content"] == "Saved it on your side."
    assert fake_llm.chat_requests[-1].tool_results == ["stored in the client's notes"]
    assert passages(api, agent["id"]) == []


def test_mixed_answers_settle_each_call_their_own_way(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        tool_rules=NEEDS_APPROVAL, memory_blocks=[{"label": "human", "value": "Name: Ada"}]
    )
    ask_twice(api, fake_llm, agent["id"])
    fake_llm.script(reply.text("Done."))

    response = answer(
        api,
        agent["id"],
        {
            "type": "approval",
            "approvals": [
                returned("c_note", "could not reach the notes app", "error"),
                {"type": "approval", "tool_call_id": "c_save", "approve": True},
            ],
        },
    )

    assert response.status_code == 200, response.text
    results = {
        m["tool_call_id"]: m["status"]
        for m in response.json()["messages"]
        if m["message_type"] == "tool_return_message"
    }
    assert results == {"c_save": "success", "c_note": "error"}
    assert passages(api, agent["id"]) == ["Likes tea."]
    human = api.get(f"/v1/agents/{agent['id']}/core-memory/blocks/human")
    assert human.json()["value"] == "Name: Ada"


def test_letta_tool_return_message_answers_the_waiting_calls(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    ask_twice(api, fake_llm, agent["id"])
    fake_llm.script(reply.text("Both done by you."))

    response = answer(
        api,
        agent["id"],
        {
            "type": "tool_return",
            "tool_returns": [returned("c_save", "ok"), returned("c_note", "ok")],
        },
    )

    assert response.status_code == 200, response.text
    assert response.json()["stop_reason"]["stop_reason"] == "end_turn"
    assert fake_llm.chat_requests[-1].tool_results == ["ok", "ok"]
    assert passages(api, agent["id"]) == []


def test_bad_tool_returns_name_the_field_and_change_nothing(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    nothing_waits = answer(
        api, agent["id"], {"type": "tool_return", "tool_returns": [returned("c_save", "ok")]}
    )
    ask_twice(api, fake_llm, agent["id"])
    requests_before = len(fake_llm.chat_requests)

    unknown = answer(
        api, agent["id"], {"type": "approval", "approvals": [returned("c_other", "ok")]}
    )
    bad_status = answer(
        api, agent["id"], {"type": "approval", "approvals": [returned("c_save", "ok", "maybe")]}
    )
    twice = answer(
        api,
        agent["id"],
        {"type": "approval", "approvals": [returned("c_save", "ok"), returned("c_save", "ok")]},
    )
    left_out = answer(
        api, agent["id"], {"type": "tool_return", "tool_returns": [returned("c_save", "ok")]}
    )

    assert nothing_waits.status_code == 422
    assert "tool_returns[0].tool_call_id" in detail_text(nothing_waits)
    assert unknown.status_code == 422
    assert "approvals[0].tool_call_id" in detail_text(unknown)
    assert "c_other" in detail_text(unknown)
    assert bad_status.status_code == 422
    assert "status" in detail_text(bad_status)
    assert twice.status_code == 422
    assert "approvals[1].tool_call_id" in detail_text(twice)
    assert left_out.status_code == 422
    assert "messages.tool_returns" in detail_text(left_out)
    assert "c_note" in detail_text(left_out)
    assert len(fake_llm.chat_requests) == requests_before
    pending = api.get(f"/v1/agents/{agent['id']}").json()["pending_approval"]
    assert [call["tool_call_id"] for call in pending["tool_calls"]] == ["c_save", "c_note"]
    history = api.get(f"/v1/agents/{agent['id']}/messages").json()
    assert "approval_response_message" not in {m["message_type"] for m in history}
