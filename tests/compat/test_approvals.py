"""Tool approvals through letta-client: a requires_approval rule stops the run with an
``ApprovalRequestMessage``, and the SDK's approval message lets it go on."""

from __future__ import annotations

import pytest
from letta_client import Letta, NotFoundError, UnprocessableEntityError
from letta_client.types import AgentState, ToolReturnMessage
from letta_client.types.agents import (
    ApprovalRequestMessage,
    ApprovalResponseMessage,
    AssistantMessage,
    LettaResponse,
)

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent(
        tool_rules=[{"type": "requires_approval", "tool_name": "archival_memory_insert"}]
    )


def ask_to_save(client: Letta, fake_llm: FakeLLM, agent_id: str) -> LettaResponse:
    fake_llm.script(reply.tool_call("archival_memory_insert", {"content": "Likes tea."}))
    return client.agents.messages.create(
        agent_id, messages=[{"role": "user", "content": "Remember that I like tea."}]
    )


def test_approvals_through_the_sdk(client: Letta, fake_llm: FakeLLM, agent: AgentState) -> None:
    asked = ask_to_save(client, fake_llm, agent.id)

    assert asked.stop_reason.stop_reason == "requires_approval"
    (request,) = [m for m in asked.messages if isinstance(m, ApprovalRequestMessage)]
    assert request.tool_call.name == "archival_memory_insert"
    pending = client.agents.retrieve(agent.id).pending_approval
    assert pending is not None and pending.id == request.id
    assert list(client.agents.passages.list(agent.id)) == []

    fake_llm.script(reply.text("Saved."))
    approved = client.agents.messages.create(
        agent.id,
        messages=[{"type": "approval", "approve": True, "approval_request_id": request.id}],
    )

    assert approved.stop_reason.stop_reason == "end_turn"
    response, result, answer = approved.messages
    assert isinstance(response, ApprovalResponseMessage)
    assert response.approval_request_id == request.id and response.approve is True
    assert isinstance(result, ToolReturnMessage) and result.status == "success"
    assert isinstance(answer, AssistantMessage) and answer.content == "Saved."
    assert [p.text for p in client.agents.passages.list(agent.id)] == ["Likes tea."]
    assert client.agents.retrieve(agent.id).pending_approval is None
    listed = list(client.agents.messages.list(agent.id, order="asc"))
    (stored,) = [m for m in listed if isinstance(m, ApprovalResponseMessage)]
    assert stored.id == response.id
    assert [(a.type, a.tool_call_id) for a in stored.approvals or []] == [
        ("approval", request.tool_call.tool_call_id)
    ]


def test_a_denial_through_the_sdk_approvals_list(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    asked = ask_to_save(client, fake_llm, agent.id)
    (request,) = [m for m in asked.messages if isinstance(m, ApprovalRequestMessage)]
    call_id = request.tool_call.tool_call_id
    fake_llm.script(reply.text("I will not save it."))

    denied = client.agents.messages.create(
        agent.id,
        messages=[
            {
                "type": "approval",
                "approvals": [
                    {"type": "approval", "tool_call_id": call_id, "approve": False, "reason": "no"}
                ],
            }
        ],
    )

    assert denied.stop_reason.stop_reason == "end_turn"
    assert "the user denied this call: no" in fake_llm.chat_requests[-1].tool_results[-1]
    assert list(client.agents.passages.list(agent.id)) == []


def test_an_approval_with_nothing_pending_is_refused(client: Letta, agent: AgentState) -> None:
    with pytest.raises(UnprocessableEntityError) as refused:
        client.agents.messages.create(agent.id, messages=[{"type": "approval", "approve": True}])

    assert "approval_request_id" in str(refused.value)


def test_approval_turned_on_and_off_through_the_sdk(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    on = client.agents.tools.update_approval(
        "archival_memory_insert", agent_id=agent.id, body_requires_approval=True
    )

    assert on is not None and on.id == agent.id
    assert [(rule.type, rule.tool_name) for rule in on.tool_rules or []] == [
        ("requires_approval", "archival_memory_insert")
    ]
    asked = ask_to_save(client, fake_llm, agent.id)
    assert asked.stop_reason.stop_reason == "requires_approval"
    fake_llm.script(reply.text("Saved."))
    client.agents.messages.create(agent.id, messages=[{"type": "approval", "approve": True}])

    off = client.agents.tools.update_approval(
        "archival_memory_insert",
        agent_id=agent.id,
        body_requires_approval=False,
        query_requires_approval=False,
    )

    assert off is not None and not off.tool_rules
    fake_llm.script(reply.text("Noted."))
    again = ask_to_save(client, fake_llm, agent.id)
    assert again.stop_reason.stop_reason == "end_turn"


def test_approval_for_a_tool_the_agent_lacks_is_not_found(client: Letta, agent: AgentState) -> None:
    with pytest.raises(NotFoundError) as refused:
        client.agents.tools.update_approval(
            "web_search", agent_id=agent.id, body_requires_approval=True
        )

    assert "'web_search' is not attached" in str(refused.value)


def test_a_result_the_client_ran_itself_through_the_sdk(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    asked = ask_to_save(client, fake_llm, agent.id)
    (request,) = [m for m in asked.messages if isinstance(m, ApprovalRequestMessage)]
    call_id = request.tool_call.tool_call_id
    fake_llm.script(reply.text("Saved on your side."))

    answered = client.agents.messages.create(
        agent.id,
        messages=[
            {
                "type": "tool_return",
                "tool_returns": [
                    {
                        "type": "tool",
                        "tool_call_id": call_id,
                        "tool_return": "kept in the client's notes",
                        "status": "success",
                    }
                ],
            }
        ],
    )

    response, result, _ = answered.messages
    assert isinstance(response, ApprovalResponseMessage)
    assert [(a.type, a.tool_call_id) for a in response.approvals or []] == [("tool", call_id)]
    assert isinstance(result, ToolReturnMessage)
    assert result.tool_return == "kept in the client's notes"
    assert list(client.agents.passages.list(agent.id)) == []


def test_a_streamed_approval_parses_into_the_sdk_classes(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    ask_to_save(client, fake_llm, agent.id)
    fake_llm.script(reply.text("Saved."))

    stream = client.agents.messages.create(
        agent.id, messages=[{"type": "approval", "approve": True}], streaming=True
    )
    kinds = [type(event).__name__ for event in stream if type(event).__name__ != "LettaPing"]

    assert kinds[:3] == ["ApprovalResponseMessage", "ToolReturnMessage", "AssistantMessage"]
