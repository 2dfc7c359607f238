"""Talking to an agent through letta-client: every message type the server sends parses into
the SDK's own classes, and history reads back the same conversation."""

from __future__ import annotations

import itertools
import json
import time
import warnings
from typing import Any

import pytest
from letta_client import Letta, UnprocessableEntityError
from letta_client.types import AgentState, ToolReturnMessage
from letta_client.types.agents import (
    ApprovalRequestMessage,
    AssistantMessage,
    LettaResponse,
    ReasoningMessage,
    ToolCallMessage,
    UserMessage,
)

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent(memory_blocks=[{"label": "human", "value": "Name: Ada"}])


def remember_rex(client: Letta, fake_llm: FakeLLM, agent_id: str) -> LettaResponse:
    fake_llm.script(
        reply.tool_call(
            "archival_memory_insert",
            {"content": "my dog is Rex"},
            reasoning="The user wants this remembered.",
        ),
        reply.text("Saved: your dog is Rex."),
    )
    return client.agents.messages.create(
        agent_id, messages=[{"role": "user", "content": "remember: my dog is Rex"}]
    )


def test_tool_call_then_answer_parses_into_sdk_message_classes(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    response = remember_rex(client, fake_llm, agent.id)

    reasoning, call, result, answer = response.messages
    assert isinstance(reasoning, ReasoningMessage)
    assert reasoning.reasoning == "The user wants this remembered."
    assert isinstance(call, ToolCallMessage)
    assert call.tool_call.name == "archival_memory_insert"
    assert json.loads(call.tool_call.arguments or "") == {"content": "my dog is Rex"}
    assert isinstance(result, ToolReturnMessage)
    assert result.status == "success"
    assert result.tool_call_id == call.tool_call.tool_call_id
    assert isinstance(answer, AssistantMessage)
    assert answer.content == "Saved: your dog is Rex."
    run_ids = {message.run_id for message in response.messages}
    assert len(run_ids) == 1 and next(iter(run_ids), "").startswith("run-")
    assert response.stop_reason.stop_reason == "end_turn"
    assert response.usage.step_count == 2
    assert response.usage.total_tokens > 0


def test_input_shorthand_and_text_parts_are_accepted(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.script(reply.text("Hello!"), reply.text("Hello again!"))

    by_input = client.agents.messages.create(agent.id, input="hi")
    by_parts = client.agents.messages.create(
        agent.id,
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi again"}]}],
    )

    assert [m.content for m in by_input.messages if isinstance(m, AssistantMessage)] == ["Hello!"]
    assert [m.content for m in by_parts.messages if isinstance(m, AssistantMessage)] == [
        "Hello again!"
    ]
    assert fake_llm.requests[-1].last_user_text.endswith("hi again")


def test_history_lists_the_conversation_in_the_requested_order(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    remember_rex(client, fake_llm, agent.id)

    oldest_first = client.agents.messages.list(agent.id, order="asc").items
    newest_first = client.agents.messages.list(agent.id, order="desc").items

    kinds = [type(m) for m in oldest_first]
    assert kinds[-5:] == [
        UserMessage,
        ReasoningMessage,
        ToolCallMessage,
        ToolReturnMessage,
        AssistantMessage,
    ]
    user = oldest_first[-5]
    assert isinstance(user, UserMessage)
    assert "my dog is Rex" in str(user.content)
    assert newest_first[0].id == oldest_first[-1].id


def test_history_limit_returns_the_newest_messages_first(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    remember_rex(client, fake_llm, agent.id)

    newest = client.agents.messages.list(agent.id, limit=1).items

    assert [type(m) for m in newest] == [AssistantMessage]


def test_history_auto_pagination_yields_each_message_once(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    remember_rex(client, fake_llm, agent.id)
    everything = client.agents.messages.list(agent.id, order="asc", limit=1000).items

    paged = list(itertools.islice(client.agents.messages.list(agent.id, limit=2), 100))

    assert [(m.id, m.message_type) for m in paged] == [
        (m.id, m.message_type) for m in reversed(everything)
    ]


def test_reset_empties_the_context_window_and_returns_the_agent(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    remember_rex(client, fake_llm, agent.id)
    before = client.agents.retrieve(agent.id)

    reset = client.agents.messages.reset(agent.id)

    assert isinstance(reset, AgentState)
    assert reset.id == agent.id
    assert before.message_ids
    assert len(reset.message_ids or []) < len(before.message_ids)
    assert client.agents.retrieve(agent.id).message_ids == reset.message_ids


def test_compact_folds_the_window_into_a_summary(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    for turn in range(3):
        fake_llm.script(reply.text(f"Answer {turn}."))
        client.agents.messages.create(agent.id, input=f"question {turn}")
    fake_llm.script(reply.text("Ada asked three questions and got three answers."))

    compacted = client.agents.messages.compact(agent.id)

    assert compacted.summary == "Ada asked three questions and got three answers."
    assert compacted.num_messages_after < compacted.num_messages_before


CLIENT_TOOL = {
    "name": "read_clipboard",
    "description": "The text on the user's clipboard.",
    "parameters": {"type": "object", "properties": {}},
}


def declare_client_tool(client: Letta, agent_id: str, how: str) -> list[Any]:
    """One turn declaring a client-side tool, sent the way ``how`` names; what came back."""
    ask: dict[str, Any] = {"input": "What is on my clipboard?", "client_tools": [CLIENT_TOOL]}
    if how == "create":
        return list(client.agents.messages.create(agent_id, **ask).messages)
    if how == "create_streaming":
        return list(client.agents.messages.create(agent_id, streaming=True, **ask))
    if how == "stream":  # deprecated, still posts to /messages/stream
        with warnings.catch_warnings(category=DeprecationWarning, action="ignore"):
            return list(client.agents.messages.stream(agent_id, **ask))
    run = client.agents.messages.create_async(agent_id, **ask)
    for _ in range(600):
        run = client.runs.retrieve(run.id)
        if run.status not in ("created", "running"):
            break
        time.sleep(0.05)
    return list(client.runs.messages.list(run.id).items)


@pytest.mark.parametrize("how", ["create", "create_streaming", "stream", "create_async"])
def test_a_client_tool_call_waits_for_the_clients_result(
    client: Letta, fake_llm: FakeLLM, agent: AgentState, how: str
) -> None:
    fake_llm.script(reply.tool_call("read_clipboard", {}, id="c_clip"))

    got = declare_client_tool(client, agent.id, how)

    assert "read_clipboard" in fake_llm.chat_requests[0].tool_names
    (request,) = [m for m in got if isinstance(m, ApprovalRequestMessage)]
    assert request.tool_call.name == "read_clipboard"
    fake_llm.script(reply.text("It says: hello."))
    resumed = client.agents.messages.create(
        agent.id,
        messages=[
            {
                "type": "tool_return",
                "tool_returns": [
                    {
                        "type": "tool",
                        "tool_call_id": "c_clip",
                        "tool_return": "hello",
                        "status": "success",
                    }
                ],
            }
        ],
        client_tools=[CLIENT_TOOL],
    )
    assert resumed.stop_reason.stop_reason == "end_turn"
    returns = [m for m in resumed.messages if isinstance(m, ToolReturnMessage)]
    assert [m.tool_return for m in returns] == ["hello"]
    assert fake_llm.chat_requests[-1].tool_results[-1] == "hello"


def test_history_group_id_matches_nothing_and_include_err_adds_nothing(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    remember_rex(client, fake_llm, agent.id)

    everything = client.agents.messages.list(agent.id).items
    with_errors = client.agents.messages.list(agent.id, include_err=True).items
    of_a_group = client.agents.messages.list(agent.id, group_id="group-anything").items

    assert len(everything) == 5
    assert [m.id for m in with_errors] == [m.id for m in everything]
    assert of_a_group == []


def test_compact_takes_compaction_settings_for_this_fold_only(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    for turn in range(3):
        fake_llm.script(reply.text(f"Answer {turn}."))
        client.agents.messages.create(agent.id, input=f"question {turn}")
    fake_llm.script(reply.text("Questions."))

    compacted = client.agents.messages.compact(
        agent.id, compaction_settings={"prompt": "Sum it up in exactly one word, in French."}
    )

    summarizer = json.dumps(fake_llm.chat_requests[-1].json["messages"])
    assert "Sum it up in exactly one word, in French." in summarizer
    assert compacted.summary == "Questions."
    assert client.agents.retrieve(agent.id).compaction_settings is None or (
        client.agents.retrieve(agent.id).compaction_settings.prompt  # type: ignore[union-attr]
        != "Sum it up in exactly one word, in French."
    )


def test_compact_refuses_settings_that_cannot_hold(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.messages.compact(
            agent.id,
            compaction_settings={"trigger_fraction": 0.5, "target_fraction": 0.9},  # type: ignore[typeddict-unknown-key]
        )

    assert "compaction_settings" in str(caught.value)
    assert fake_llm.chat_requests == []
