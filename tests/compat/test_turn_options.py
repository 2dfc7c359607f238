"""Letta's per-request turn options through the SDK, as a Letta user sends them."""

from __future__ import annotations

import pytest
from letta_client import Letta, UnprocessableEntityError
from letta_client.types.agents import AssistantMessage, ToolCallMessage

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply


def test_override_model_and_system_hold_for_the_request(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(system="You are a careful librarian.")
    fake_llm.script(reply.text("Arr."))

    answer = client.agents.messages.create(
        agent.id,
        input="hi",
        override_model="openai/fake-small",
        override_system="You are a pirate.",
    )

    (sent,) = fake_llm.chat_requests
    assert sent.model == "fake-small"
    assert sent.system_text == "You are a pirate."
    assert [m.content for m in answer.messages if isinstance(m, AssistantMessage)] == ["Arr."]
    kept = client.agents.retrieve(agent.id)
    assert kept.system == "You are a careful librarian."
    assert kept.llm_config.model == "gpt-4o-mini"


def test_include_return_message_types_and_use_assistant_message(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(agent_type="memgpt_v2_agent")
    fake_llm.script(reply.tool_call("send_message", {"message": "Hello."}, id="c_say"))

    answer = client.agents.messages.create(
        agent.id,
        input="hi",
        use_assistant_message=False,
        include_return_message_types=["tool_call_message"],
    )

    assert [type(m) for m in answer.messages] == [ToolCallMessage]
    call = answer.messages[0]
    assert isinstance(call, ToolCallMessage)
    assert call.tool_call.name == "send_message"
    assert answer.stop_reason.stop_reason == "end_turn"


def test_an_unserved_option_is_refused_naming_it(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.messages.create(agent.id, input="hi", return_token_ids=True)

    assert "return_token_ids" in str(caught.value)
    assert fake_llm.chat_requests == []


def test_logprobs_come_back_in_the_response(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("Hello there."))

    answer = client.agents.messages.create(
        agent.id, input="hi", return_logprobs=True, top_logprobs=1
    )

    assert answer.logprobs is not None
    tokens = answer.logprobs.content or []
    assert [t.token for t in tokens] == ["Hello", " there."]
    assert [len(t.top_logprobs) for t in tokens] == [1, 1]


def test_the_history_takes_the_display_options(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(agent_type="memgpt_v2_agent")
    fake_llm.script(reply.tool_call("send_message", {"message": "Hello."}, id="c_say"))
    client.agents.messages.create(agent.id, input="hi")

    page = client.agents.messages.list(
        agent.id,
        use_assistant_message=False,
        include_return_message_types=["tool_call_message"],
    ).items

    assert [type(m) for m in page] == [ToolCallMessage]
