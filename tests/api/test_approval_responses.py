"""The client's answer to an approval request is kept as an ``approval_response_message``:
between the request and the calls' results in the history, the run and the response, never
in the model's prompt, and carried by agent files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, send_input
from tests.fakes import FakeLLM, reply
from tests.helpers import conversation
from tests.support.inprocess import InProcessServer

SYSTEM = {"system_message"}
"""What the history checks leave out: the system prompt."""

NEEDS_APPROVAL = [{"type": "requires_approval", "tool_name": "archival_memory_insert"}]
DENIAL = [{"type": "approval", "tool_call_id": "call_save", "approve": False, "reason": "no"}]


def ask_to_save(api: httpx.Client, fake_llm: FakeLLM, agent_id: str) -> dict[str, Any]:
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "Likes tea."}, id="call_save")
    )
    answer = send_input(api, agent_id, "Remember that I like tea.")
    assert answer["stop_reason"]["stop_reason"] == "requires_approval"
    (request,) = [m for m in answer["messages"] if m["message_type"] == "approval_request_message"]
    return request


def answer_with(api: httpx.Client, agent_id: str, **approval: Any) -> dict[str, Any]:
    body = {"messages": [{"type": "approval", "otid": "otid-answer", **approval}]}
    response = api.post(f"/v1/agents/{agent_id}/messages", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_denial_is_stored_between_the_request_and_the_result(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    request = ask_to_save(api, fake_llm, agent["id"])
    fake_llm.script(reply.text("I will not save it."))

    answered = answer_with(api, agent["id"], approvals=DENIAL)

    shown = conversation(api, agent["id"], skip=SYSTEM)
    kinds = [m["message_type"] for m in shown]
    assert kinds == [
        "user_message",
        "approval_request_message",
        "approval_response_message",
        "tool_return_message",
        "assistant_message",
    ]
    stored = shown[2]
    assert stored == answered["messages"][0]
    assert stored["approval_request_id"] == request["id"]
    assert stored["approve"] is None
    assert stored["reason"] is None
    assert stored["approvals"] == DENIAL
    assert stored["otid"] == "otid-answer"
    assert stored["run_id"] == answered["messages"][-1]["run_id"] != request["run_id"]
    assert shown[3]["status"] == "error"


def test_the_run_lists_the_answer_first(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    ask_to_save(api, fake_llm, agent["id"])
    fake_llm.script(reply.text("Saved."))

    answered = answer_with(api, agent["id"], approve=True, reason="fine")

    run_id = answered["messages"][0]["run_id"]
    listed = api.get(f"/v1/runs/{run_id}/messages").json()
    assert [m["message_type"] for m in listed] == [
        "approval_response_message",
        "tool_return_message",
        "assistant_message",
    ]
    assert listed[0]["approve"] is True and listed[0]["reason"] == "fine"
    assert listed[0]["approvals"] == [
        {"type": "approval", "tool_call_id": "call_save", "approve": True, "reason": "fine"}
    ]


def test_the_model_sees_its_call_then_the_result_and_never_the_answer(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    ask_to_save(api, fake_llm, agent["id"])
    fake_llm.script(reply.text("I will not save it."), reply.text("Hello again."))
    answer_with(api, agent["id"], approvals=DENIAL)

    send_input(api, agent["id"], "Hello?")

    sent = fake_llm.chat_requests[-1].raw_messages
    roles = [message["role"] for message in sent]
    assert set(roles) <= {"system", "user", "assistant", "tool"}
    (calling,) = [i for i, m in enumerate(sent) if m.get("tool_calls")]
    assert sent[calling]["tool_calls"][0]["id"] == "call_save"
    assert sent[calling + 1]["role"] == "tool"
    assert sent[calling + 1]["tool_call_id"] == "call_save"
    assert "the user denied this call: no" in sent[calling + 1]["content"]
    assert sent[calling + 2] == {"role": "assistant", "content": "I will not save it."}


def test_deleting_the_request_deletes_its_answer_and_results(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    request = ask_to_save(api, fake_llm, agent["id"])
    fake_llm.script(reply.text("Saved."))
    answer_with(api, agent["id"], approve=True)

    deleted = api.delete(f"/v1/agents/{agent['id']}/messages/{request['id']}")

    assert deleted.status_code == 200, deleted.text
    kinds = [m["message_type"] for m in conversation(api, agent["id"], skip=SYSTEM)]
    assert kinds == ["user_message", "assistant_message"]


def test_an_agent_file_carries_the_request_and_the_answer(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    ask_to_save(api, fake_llm, agent["id"])
    fake_llm.script(reply.text("Saved."))
    answer_with(api, agent["id"], approve=True)
    before = conversation(api, agent["id"], skip=SYSTEM)

    exported = api.get(f"/v1/agents/{agent['id']}/export")
    assert exported.status_code == 200, exported.text
    document = json.loads(exported.text)
    (stored,) = [m for m in document["agents"][0]["messages"] if m["role"] == "approval"]
    imported = api.post(
        "/v1/agents/import",
        files={"file": ("agent.af", json.dumps(document).encode(), "application/json")},
    )

    assert imported.status_code == 200, imported.text
    assert stored["approve"] is True and stored["approval_request_id"].startswith("message-")
    after = conversation(api, imported.json()["agent_ids"][0], skip=SYSTEM)
    renewed = {"id", "run_id", "step_id", "approval_request_id"}
    assert [{k: v for k, v in m.items() if k not in renewed} for m in after] == [
        {k: v for k, v in m.items() if k not in renewed} for m in before
    ]
    assert after[2]["approval_request_id"] == after[1]["id"] != before[1]["id"]
    assert after[1]["message_type"] == "approval_request_message"


def test_an_agent_exported_while_waiting_still_waits_after_import(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    ask_to_save(api, fake_llm, agent["id"])
    document = api.get(f"/v1/agents/{agent['id']}/export").text

    imported = api.post(
        "/v1/agents/import", files={"file": ("agent.af", document.encode(), "application/json")}
    )

    assert imported.status_code == 200, imported.text
    copy = imported.json()["agent_ids"][0]
    pending = api.get(f"/v1/agents/{copy}").json()["pending_approval"]
    assert pending is not None and pending["tool_call"]["tool_call_id"] == "call_save"
    fake_llm.script(reply.text("Saved."))
    answered = answer_with(api, copy, approve=True)
    assert answered["stop_reason"]["stop_reason"] == "end_turn"


def test_a_letta_approval_request_imports_as_a_waiting_call(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    ask_to_save(api, fake_llm, agent["id"])
    document = json.loads(api.get(f"/v1/agents/{agent['id']}/export").text)
    for message in document["agents"][0]["messages"]:
        if message["tool_calls"]:
            # Letta keeps calls that wait as a message of role "approval", unmarked.
            message["role"] = "approval"
            for call in message["tool_calls"]:
                call.pop("requires_approval")

    imported = api.post(
        "/v1/agents/import",
        files={"file": ("agent.af", json.dumps(document).encode(), "application/json")},
    )

    assert imported.status_code == 200, imported.text
    copy = imported.json()["agent_ids"][0]
    assert api.get(f"/v1/agents/{copy}").json()["pending_approval"] is not None


def test_resetting_the_messages_drops_the_pending_request(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    ask_to_save(api, fake_llm, agent["id"])

    reset = api.patch(f"/v1/agents/{agent['id']}/reset-messages")

    assert reset.status_code == 200, reset.text
    assert reset.json()["pending_approval"] is None
    late = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"type": "approval", "approve": True}]},
    )
    assert late.status_code == 422
    fake_llm.script(reply.text("Hello."))
    send_input(api, agent["id"], "Hello?")
    assert not any(m.get("tool_calls") for m in fake_llm.chat_requests[-1].raw_messages)


@pytest.fixture(scope="module")
def anthropic_server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    """A server that also reaches the fake LLM through Anthropic's Messages API."""
    env = {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": fake_llm_server.url}
    server = InProcessServer(
        tmp_path_factory.mktemp("approvals-anthropic"), fake_llm_server.base_url, env
    )
    server.start()
    yield server
    server.stop()


def test_an_anthropic_model_gets_its_tool_use_then_the_result(
    anthropic_server: InProcessServer, fake_llm: FakeLLM
) -> None:
    with anthropic_server.client() as api:
        created = api.post(
            "/v1/agents/", json={"model": "anthropic/gpt-4o-mini", "tool_rules": NEEDS_APPROVAL}
        )
        assert created.status_code == 200, created.text
        agent_id = created.json()["id"]
        ask_to_save(api, fake_llm, agent_id)
        fake_llm.script(reply.text("I will not save it."), reply.text("Hello again."))
        answer_with(api, agent_id, approvals=DENIAL)

        send_input(api, agent_id, "Hello?")

    sent = fake_llm.chat_requests[-1]
    assert sent.wire == "anthropic"
    blocks = [
        (message["role"], block["type"])
        for message in sent.raw_messages
        for block in message["content"]
        if isinstance(message["content"], list) and block["type"] in ("tool_use", "tool_result")
    ]
    assert blocks == [("assistant", "tool_use"), ("user", "tool_result")]


def test_an_agent_file_with_a_malformed_answer_is_refused(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(tool_rules=NEEDS_APPROVAL)
    ask_to_save(api, fake_llm, agent["id"])
    fake_llm.script(reply.text("Saved."))
    answer_with(api, agent["id"], approve=True)
    document = json.loads(api.get(f"/v1/agents/{agent['id']}/export").text)
    messages = document["agents"][0]["messages"]
    (index,) = [i for i, m in enumerate(messages) if m["role"] == "approval"]
    messages[index]["approvals"] = [{"type": "approval", "approve": True}]

    imported = api.post(
        "/v1/agents/import",
        files={"file": ("agent.af", json.dumps(document).encode(), "application/json")},
    )

    assert imported.status_code == 422
    assert f"messages.{index}.approvals.0.tool_call_id" in imported.json()["detail"]
