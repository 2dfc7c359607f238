"""Tool approvals: a call of a tool that requires approval waits, the run stops with
``requires_approval``, and the client's approval or denial lets the loop go on."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import AgentFactory, detail_text, send_input
from tests.fakes import FakeLLM, reply

NEEDS_APPROVAL = [{"type": "requires_approval", "tool_name": "archival_memory_insert"}]


def passages(api: httpx.Client, agent_id: str) -> list[str]:
    return [p["text"] for p in api.get(f"/v1/agents/{agent_id}/archival-memory").json()]


def approve(api: httpx.Client, agent_id: str, **approval: Any) -> httpx.Response:
    body = {"messages": [{"type": "approval", **approval}]}
    return api.post(f"/v1/agents/{agent_id}/messages", json=body)


def ask_to_save(api: httpx.Client, fake_llm: FakeLLM, agent_id: str) -> dict[str, Any]:
    """A turn whose model call needs approval; the request as the response shows it."""
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "Likes tea."}, id="call_save")
    )
    answer = send_input(api, agent_id, "Remember that I like tea.")
    assert answer["stop_reason"]["stop_reason"] == "requires_approval"
    (request,) = [m for m in answer["messages"] if m["message_type"] == "approval_request_message"]
    return request


def test_a_call_needing_approval_stops_the_run_without_running(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)

    request = ask_to_save(api, fake_llm, agent["id"])

    assert request["tool_call"]["name"] == "archival_memory_insert"
    assert request["tool_call"]["tool_call_id"] == "call_save"
    assert passages(api, agent["id"]) == []
    assert len(fake_llm.chat_requests) == 1
    shown = api.get(f"/v1/agents/{agent['id']}").json()
    assert shown["pending_approval"]["id"] == request["id"]
    assert shown["pending_approval"]["message_type"] == "approval_request_message"
    assert shown["pending_approval"]["tool_calls"] == [request["tool_call"]]
    assert shown["last_stop_reason"] == "requires_approval"
    run = api.get(f"/v1/runs/{request['run_id']}").json()
    assert run["stop_reason"] == "requires_approval"


def test_an_approved_call_runs_and_the_loop_goes_on(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    request = ask_to_save(api, fake_llm, agent["id"])
    fake_llm.script(reply.text("Saved."))

    response = approve(api, agent["id"], approve=True, approval_request_id=request["id"])

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["stop_reason"]["stop_reason"] == "end_turn"
    assert passages(api, agent["id"]) == ["Likes tea."]
    kinds = [m["message_type"] for m in answer["messages"]]
    assert kinds == ["approval_response_message", "tool_return_message", "assistant_message"]
    response_message, result = answer["messages"][:2]
    assert response_message["approve"] is True
    assert response_message["approval_request_id"] == request["id"]
    assert response_message["approvals"] == [
        {"type": "approval", "tool_call_id": "call_save", "approve": True, "reason": None}
    ]
    assert result["status"] == "success"
    assert result["tool_call_id"] == "call_save"
    assert len(fake_llm.chat_requests[-1].tool_results) == 1
    assert api.get(f"/v1/agents/{agent['id']}").json()["pending_approval"] is None


def test_a_denied_call_does_not_run_and_the_model_hears_why(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    request = ask_to_save(api, fake_llm, agent["id"])
    fake_llm.script(reply.text("Understood, I will not save it."))

    response = approve(
        api,
        agent["id"],
        approvals=[
            {"type": "approval", "tool_call_id": "call_save", "approve": False, "reason": "no"}
        ],
    )

    assert response.status_code == 200, response.text
    assert response.json()["stop_reason"]["stop_reason"] == "end_turn"
    assert passages(api, agent["id"]) == []
    (result,) = fake_llm.chat_requests[-1].tool_results
    assert "the user denied this call: no" in result
    assert request["tool_call"]["tool_call_id"] == "call_save"
    assert api.get(f"/v1/agents/{agent['id']}").json()["pending_approval"] is None


def test_a_tool_flagged_by_default_needs_approval(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    source = (
        "def shout(text: str) -> str:\n"
        '    """Shout.\n\n    Args:\n        text: what to shout\n    """\n'
        "    return text.upper()\n"
    )
    tool = api.post("/v1/tools/", json={"source_code": source, "default_requires_approval": True})
    assert tool.status_code == 200, tool.text
    agent = make_agent(tool_ids=[tool.json()["id"]])
    fake_llm.script(reply.tool_call("shout", {"text": "hi"}, id="call_shout"))
    answer = send_input(api, agent["id"], "Shout hi.")
    assert answer["stop_reason"]["stop_reason"] == "requires_approval"
    fake_llm.script(reply.text("Done."))

    response = approve(api, agent["id"], approve=True)

    assert response.status_code == 200, response.text
    assert fake_llm.chat_requests[-1].tool_results == ["HI"]


def test_a_new_message_while_approval_is_pending_is_refused(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    request = ask_to_save(api, fake_llm, agent["id"])
    requests_before = len(fake_llm.chat_requests)

    response = api.post(f"/v1/agents/{agent['id']}/messages", json={"input": "Hello?"})
    streamed = api.post(f"/v1/agents/{agent['id']}/messages/stream", json={"input": "Hello?"})

    assert response.status_code == 409
    assert request["id"] in detail_text(response)
    assert "archival_memory_insert" in detail_text(response)
    assert streamed.status_code == 409
    assert len(fake_llm.chat_requests) == requests_before
    assert api.get(f"/v1/agents/{agent['id']}").json()["pending_approval"] is not None


def test_bad_approvals_are_refused_and_change_nothing(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    nothing_pending = approve(api, agent["id"], approve=True)
    assert nothing_pending.status_code == 422
    assert "approval_request_id" in detail_text(nothing_pending)
    request = ask_to_save(api, fake_llm, agent["id"])

    wrong_request = approve(api, agent["id"], approve=True, approval_request_id="message-nope")
    wrong_call = approve(
        api, agent["id"], approvals=[{"type": "approval", "tool_call_id": "x", "approve": True}]
    )
    no_decision = approve(api, agent["id"])

    assert wrong_request.status_code == 422
    assert "message-nope" in detail_text(wrong_request)
    assert wrong_call.status_code == 422
    assert "approvals[0].tool_call_id" in detail_text(wrong_call)
    assert no_decision.status_code == 422
    assert passages(api, agent["id"]) == []
    shown = api.get(f"/v1/agents/{agent['id']}").json()
    assert shown["pending_approval"]["id"] == request["id"]


def test_the_history_shows_the_request_and_its_result(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    ask_to_save(api, fake_llm, agent["id"])
    fake_llm.script(reply.text("Saved."))
    assert approve(api, agent["id"], approve=True).status_code == 200

    history = api.get(f"/v1/agents/{agent['id']}/messages", params={"order": "asc"}).json()

    kinds = [m["message_type"] for m in history if m["message_type"] != "system_message"]
    assert kinds[-5:] == [
        "user_message",
        "approval_request_message",
        "approval_response_message",
        "tool_return_message",
        "assistant_message",
    ]


def test_an_approval_resumes_a_streamed_turn(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "Likes tea."}, id="call_s"),
        reply.text("Saved."),
    )
    url = f"/v1/agents/{agent['id']}/messages/stream"

    first = api.post(url, json={"input": "Remember tea."}).text
    second = api.post(url, json={"messages": [{"type": "approval", "approve": True}]}).text

    assert '"approval_request_message"' in first
    assert '"stop_reason":"requires_approval"' in first
    assert second.index('"approval_response_message"') < second.index('"tool_return_message"')
    assert '"stop_reason":"end_turn"' in second
    assert passages(api, agent["id"]) == ["Likes tea."]


WIFI = "The office wifi password is written on the fridge."


def test_approved_memory_calls_are_counted_in_the_runs_memory_metrics(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    """Approved calls run through the same tool pipeline as a step's, memory ledger
    included: the run that answers the approval counts what its memory tools did, and a
    hit an approved search returned counts as used when the model's answer uses it."""
    agent = make_agent(
        tool_rules=[
            *NEEDS_APPROVAL,
            {"type": "requires_approval", "tool_name": "archival_memory_search"},
        ]
    )
    seeded = api.post(f"/v1/agents/{agent['id']}/archival-memory", json={"text": WIFI})
    assert seeded.status_code == 200, seeded.text
    fake_llm.script(
        reply.tool_calls(
            [
                ("archival_memory_insert", {"content": "Likes tea."}),
                ("archival_memory_search", {"query": "office wifi password"}),
                ("archival_memory_search", {"query": "  Office WIFI password "}),
            ]
        ),
        reply.text("The office wifi password is written on the fridge."),
    )
    asked = send_input(api, agent["id"], "Where is the wifi password? Also, I like tea.")
    assert asked["stop_reason"]["stop_reason"] == "requires_approval"

    response = approve(api, agent["id"], approve=True)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["stop_reason"]["stop_reason"] == "end_turn"
    results = [
        m["tool_return"] for m in answer["messages"] if m["message_type"] == "tool_return_message"
    ]
    assert WIFI in results[1]
    assert "already ran this exact search earlier in this step" in results[2]
    metrics = api.get(f"/v1/runs/{answer['messages'][0]['run_id']}").json()["memory_metrics"]
    assert metrics["archival_inserts"] == 1
    assert (metrics["archival_searches"], metrics["repeated_searches"]) == (2, 1)
    assert metrics["hits_returned"] >= 1
    assert metrics["hits_used"] == 1, "the answer repeats the approved search's hit"
    asking_run = api.get(f"/v1/runs/{asked['messages'][0]['run_id']}").json()
    assert asking_run["memory_metrics"]["archival_inserts"] == 0, "held calls did not run"
