"""Streaming through letta-client: server-sent events per step or per token, each parsed into
the SDK's own classes, ending with the stop reason and usage."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest
from letta_client import Letta
from letta_client.types import AgentState, ToolReturnMessage
from letta_client.types.agents import AssistantMessage, ReasoningMessage, ToolCallMessage
from letta_client.types.agents.letta_streaming_response import (
    LettaPing,
    LettaStopReason,
    LettaUsageStatistics,
)

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply

REMEMBER = [{"role": "user", "content": "remember: my dog is Rex"}]

# client.agents.messages.stream is deprecated in favour of create(streaming=True), but it is
# still what most Letta code calls, and it still posts to /messages/stream.
uses_deprecated_stream = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent()


def script_remember_rex(fake_llm: FakeLLM) -> None:
    fake_llm.script(
        reply.tool_call(
            "archival_memory_insert", {"content": "my dog is Rex"}, reasoning="Worth keeping."
        ),
        reply.text("Saved: your dog is Rex."),
    )


def without_pings(events: Iterable[object]) -> list[object]:
    return [event for event in events if not isinstance(event, LettaPing)]


@uses_deprecated_stream
def test_stream_sends_each_message_whole_then_stop_reason_and_usage(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    script_remember_rex(fake_llm)

    with client.agents.messages.stream(agent.id, messages=REMEMBER) as stream:
        events = without_pings(stream)

    assert [type(event) for event in events] == [
        ReasoningMessage,
        ToolCallMessage,
        ToolReturnMessage,
        AssistantMessage,
        LettaStopReason,
        LettaUsageStatistics,
    ]
    reasoning, call, result, answer, stop, usage = events
    assert isinstance(reasoning, ReasoningMessage) and reasoning.reasoning == "Worth keeping."
    assert isinstance(call, ToolCallMessage)
    assert call.tool_call.name == "archival_memory_insert"
    assert json.loads(call.tool_call.arguments or "") == {"content": "my dog is Rex"}
    assert isinstance(result, ToolReturnMessage) and result.status == "success"
    assert isinstance(answer, AssistantMessage) and answer.content == "Saved: your dog is Rex."
    assert isinstance(stop, LettaStopReason) and stop.stop_reason == "end_turn"
    assert isinstance(usage, LettaUsageStatistics) and usage.step_count == 2


@uses_deprecated_stream
def test_stream_tokens_sends_chunks_that_join_into_the_call_and_the_answer(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    script_remember_rex(fake_llm)

    with client.agents.messages.stream(agent.id, messages=REMEMBER, stream_tokens=True) as stream:
        events = without_pings(stream)

    calls = [e for e in events if isinstance(e, ToolCallMessage)]
    answers = [e for e in events if isinstance(e, AssistantMessage)]
    assert len(answers) > 1, "the answer arrives in several chunks"
    assert len({chunk.id for chunk in answers}) == 1
    assert "".join(str(chunk.content) for chunk in answers) == "Saved: your dog is Rex."
    assert calls[0].tool_call.name == "archival_memory_insert"
    arguments = "".join(chunk.tool_call.arguments or "" for chunk in calls)
    assert json.loads(arguments) == {"content": "my dog is Rex"}
    assert len({chunk.tool_call.tool_call_id for chunk in calls}) == 1
    assert isinstance(events[-2], LettaStopReason) and events[-2].stop_reason == "end_turn"
    assert isinstance(events[-1], LettaUsageStatistics)


def test_create_with_streaming_true_answers_as_a_stream(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.script(reply.text("Hello there."))

    stream = client.agents.messages.create(agent.id, input="hi", streaming=True)
    events = without_pings(stream)

    assert [type(event) for event in events] == [
        AssistantMessage,
        LettaStopReason,
        LettaUsageStatistics,
    ]


@uses_deprecated_stream
def test_streamed_turn_is_kept_in_history(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    script_remember_rex(fake_llm)
    with client.agents.messages.stream(agent.id, messages=REMEMBER) as stream:
        streamed = [e for e in without_pings(stream) if isinstance(e, AssistantMessage)]

    newest = client.agents.messages.list(agent.id, limit=1).items

    assert [m.id for m in newest] == [streamed[-1].id]
