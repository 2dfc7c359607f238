"""The fake LLM must look exactly like Anthropic's Messages API to the official SDK.

Every test drives it through ``anthropic.Anthropic`` over real HTTP, as the engram
server's Anthropic provider does; the same script also answers OpenAI's SDK.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.fakes import FakeLLM, FakeRequest, fixtures, reply, tool_then_answer_handler
from tests.fakes.anthropic_wire import thinking_signature

MODEL = "claude-fake-sonnet"

fake_llm_server = fixtures.fake_llm_server
fake_llm = fixtures.fake_llm

CORE_TOOL: dict[str, Any] = {
    "name": "core_memory_append",
    "description": "Append to a memory block.",
    "input_schema": {
        "type": "object",
        "properties": {"label": {"type": "string"}, "content": {"type": "string"}},
        "required": ["label", "content"],
    },
}


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def client(fake_llm: FakeLLM) -> Iterator[anthropic.Anthropic]:
    """SDK client without retries so each scripted reply maps to one call."""
    with anthropic.Anthropic(
        base_url=fake_llm.url, api_key="test-key", max_retries=0, timeout=10
    ) as sdk:
        yield sdk


def create(client: anthropic.Anthropic, messages: list[Any], **extra: Any) -> Any:
    return client.messages.create(model=MODEL, max_tokens=512, messages=messages, **extra)


def sse_events(fake: FakeLLM, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The raw ``(event, data)`` pairs of a streamed answer, pings included."""
    response = httpx.post(
        f"{fake.url}/v1/messages",
        json={**body, "stream": True},
        headers={"anthropic-version": "2023-06-01", "x-api-key": "k"},
    )
    events: list[tuple[str, dict[str, Any]]] = []
    for chunk in response.text.strip().split("\n\n"):
        name_line, data_line = chunk.split("\n")
        events.append((name_line.removeprefix("event: "), json.loads(data_line[len("data: ") :])))
    return events


# ---------------------------------------------------------------------- models & basics


def test_models_answer_in_anthropic_shape_on_the_shared_path(
    fake_llm: FakeLLM, client: anthropic.Anthropic
) -> None:
    assert [m.id for m in client.models.list()] == list(fake_llm.models)
    assert client.models.retrieve("fake-small").display_name == "Fake Small"
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.models.retrieve("no-such-model")
    assert missing.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "The model 'no-such-model' does not exist"},
    }
    raw = httpx.get(f"{fake_llm.url}/v1/models", headers={"anthropic-version": "2023-06-01"})
    listing = raw.json()
    assert listing["has_more"] is False
    assert listing["first_id"] == fake_llm.models[0] and listing["last_id"] == fake_llm.models[-1]
    assert set(listing["data"][0]) == {"type", "id", "display_name", "created_at"}
    # Without the header it is OpenAI's list.
    assert httpx.get(f"{fake_llm.url}/v1/models").json()["object"] == "list"


def test_text_reply_is_a_message_with_usage(fake_llm: FakeLLM, client: anthropic.Anthropic) -> None:
    fake_llm.script(reply.text("Hello there!", prompt_tokens=42, completion_tokens=3))
    message = create(client, user("Hi, I am Sam."), system="You are a helpful agent.")
    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    assert [(b.type, b.text) for b in message.content] == [("text", "Hello there!")]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (42, 3)
    request = fake_llm.chat_requests[-1]
    assert request.wire == "anthropic" and request.is_chat
    assert request.system_text == "You are a helpful agent."
    assert request.last_user_text == "Hi, I am Sam."
    assert request.api_key == "test-key"


def test_one_script_answers_both_wire_formats(
    fake_llm: FakeLLM, client: anthropic.Anthropic
) -> None:
    fake_llm.script(reply.text("to openai"), reply.text("to anthropic"))
    with openai.OpenAI(base_url=fake_llm.base_url, api_key="k", max_retries=0) as sdk:
        first = sdk.chat.completions.create(model="gpt-4o-mini", messages=user("a"))
    second = create(client, user("b"))
    assert first.choices[0].message.content == "to openai"
    assert second.content[0].text == "to anthropic"
    assert [r.wire for r in fake_llm.chat_requests] == ["openai", "anthropic"]
    fake_llm.assert_script_consumed()


# ---------------------------------------------------------------------- tools


def test_tool_use_round_trip_reads_like_openai_to_predicates(
    fake_llm: FakeLLM, client: anthropic.Anthropic
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Sam"}, id="toolu_1"),
        reply.text("Noted."),
    )
    first = create(client, user("I am Sam"), tools=[CORE_TOOL], tool_choice={"type": "any"})
    assert first.stop_reason == "tool_use"
    (call,) = first.content
    assert (call.type, call.id, call.name) == ("tool_use", "toolu_1", "core_memory_append")
    assert call.input == {"label": "human", "content": "Sam"}
    request = fake_llm.chat_requests[-1]
    assert request.tool_names == ["core_memory_append"]
    assert request.tool_schema("core_memory_append") == CORE_TOOL["input_schema"]
    assert request.tool_choice == "required"

    history = [
        *user("I am Sam"),
        {"role": "assistant", "content": [call.model_dump()]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "appended"},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]
    second = create(client, history, tools=[CORE_TOOL])
    assert second.content[0].text == "Noted."
    request = fake_llm.chat_requests[-1]
    assert request.tool_results == ["appended"]
    assert [m["role"] for m in request.messages] == ["user", "assistant", "tool", "user"]
    assert request.messages[1]["tool_calls"][0]["function"]["name"] == "core_memory_append"
    assert request.last_user_text == "thanks"


def test_parallel_calls_and_raw_arguments(fake_llm: FakeLLM, client: anthropic.Anthropic) -> None:
    fake_llm.script(
        reply.tool_calls([("core_memory_append", {"label": "a"}), ("core_memory_append", {})]),
        reply.raw_arguments('{"label": "hu'),
    )
    calls = create(client, user("x"), tools=[CORE_TOOL]).content
    assert [c.input for c in calls] == [{"label": "a"}, {}]
    assert all(c.id.startswith("toolu_") for c in calls) and calls[0].id != calls[1].id
    # A whole message can only carry an object: broken JSON comes wrapped.
    (broken,) = create(client, user("y"), tools=[CORE_TOOL]).content
    assert broken.input == {"INVALID_JSON": '{"label": "hu'}


def test_tool_then_answer_handler_works_on_the_anthropic_wire(
    fake_llm: FakeLLM, client: anthropic.Anthropic
) -> None:
    fake_llm.fallback = tool_then_answer_handler(preferred_tool="core_memory_append")
    (call,) = create(client, user("remember Rome"), tools=[CORE_TOOL]).content
    assert call.name == "core_memory_append"
    assert call.input == {"label": "human", "content": "remember Rome"}


# ---------------------------------------------------------------------- thinking


def test_thinking_and_redacted_thinking_blocks(
    fake_llm: FakeLLM, client: anthropic.Anthropic
) -> None:
    fake_llm.script(reply.text("42.", reasoning="Six times seven.", redacted_thinking="EqQBCkYI"))
    message = create(client, user("6*7?"))
    thinking, redacted, text = message.content
    assert (thinking.type, thinking.thinking) == ("thinking", "Six times seven.")
    assert thinking.signature == thinking_signature("Six times seven.")
    assert (redacted.type, redacted.data) == ("redacted_thinking", "EqQBCkYI")
    assert text.text == "42."


def test_thinking_must_come_back_first_with_its_tool_call(
    fake_llm: FakeLLM, client: anthropic.Anthropic
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human"}, reasoning="Store it."),
        reply.text("Stored."),
    )
    thinking, call = create(client, user("x"), tools=[CORE_TOOL]).content
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "ok"}],
    }
    without = [*user("x"), {"role": "assistant", "content": [call.model_dump()]}, result]
    with pytest.raises(anthropic.BadRequestError, match="must start with a thinking block"):
        create(client, without, tools=[CORE_TOOL])
    tampered = {**thinking.model_dump(), "thinking": "Something else."}
    forged = [*user("x"), {"role": "assistant", "content": [tampered, call.model_dump()]}, result]
    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature`"):
        create(client, forged, tools=[CORE_TOOL])
    intact = [
        *user("x"),
        {"role": "assistant", "content": [thinking.model_dump(), call.model_dump()]},
        result,
    ]
    assert create(client, intact, tools=[CORE_TOOL]).content[0].text == "Stored."
    assert fake_llm.chat_requests[-1].thinking_blocks == [thinking.model_dump()]


# ---------------------------------------------------------------------- streaming


def test_stream_event_sequence(fake_llm: FakeLLM) -> None:
    fake_llm.script(
        reply.tool_call(
            "core_memory_append", {"label": "human"}, content="On it.", reasoning="Plan it."
        )
    )
    body = {"model": MODEL, "max_tokens": 64, "messages": user("go"), "tools": [CORE_TOOL]}
    events = sse_events(fake_llm, body)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "ping" in names
    assert events[0][1]["message"]["content"] == []
    starts = [
        data["content_block"]["type"] for name, data in events if name == "content_block_start"
    ]
    assert starts == ["thinking", "text", "tool_use"]
    deltas = [data["delta"]["type"] for name, data in events if name == "content_block_delta"]
    for kind in ("thinking_delta", "signature_delta", "text_delta", "input_json_delta"):
        assert kind in deltas
    assert deltas.index("signature_delta") < deltas.index("text_delta")
    assert names.count("content_block_stop") == 3
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "tool_use" and final["usage"]["output_tokens"] > 0
    streamed = "".join(
        data["delta"]["partial_json"]
        for name, data in events
        if name == "content_block_delta" and data["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(streamed) == {"label": "human"}


def test_sdk_stream_is_token_by_token_and_accumulates(
    fake_llm: FakeLLM, client: anthropic.Anthropic
) -> None:
    fake_llm.script(reply.text("One two three four.", reasoning="Count up."))
    with client.messages.stream(model=MODEL, max_tokens=64, messages=user("count")) as stream:
        pieces = [event.text for event in stream if event.type == "text"]
        final = stream.get_final_message()
    assert pieces == ["One", " two", " three", " four."]
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].signature == thinking_signature("Count up.")
    assert final.stop_reason == "end_turn"
    assert fake_llm.chat_requests[-1].stream


# ---------------------------------------------------------------------- errors & faults


def test_errors_in_anthropic_shape_with_retry_after(
    fake_llm: FakeLLM, client: anthropic.Anthropic
) -> None:
    fake_llm.script(
        reply.error(429, "Number of requests has exceeded your rate limit", retry_after=3),
        reply.error(529, "Overloaded"),
        reply.error(500, "Internal server error"),
        reply.error(400, "max_tokens: too large"),
    )
    with pytest.raises(anthropic.RateLimitError) as limited:
        create(client, user("a"))
    assert limited.value.body == {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "Number of requests has exceeded your rate limit",
        },
    }
    assert limited.value.response.headers["retry-after"] == "3"
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        create(client, user("b"), stream=True)
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    with pytest.raises(anthropic.InternalServerError) as failed:
        create(client, user("c"))
    assert failed.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as bad:
        create(client, user("d"))
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_sdk_retries_consume_the_script(fake_llm: FakeLLM) -> None:
    fake_llm.script(reply.error(529, "Overloaded", retry_after=0.01), reply.text("recovered"))
    with anthropic.Anthropic(base_url=fake_llm.url, api_key="k", max_retries=2) as sdk:
        message = create(sdk, user("r"))
    assert message.content[0].text == "recovered"
    assert len(fake_llm.chat_requests) == 2


def test_mid_stream_error_event(fake_llm: FakeLLM, client: anthropic.Anthropic) -> None:
    fake_llm.script(reply.error(529, "Overloaded", partial_text="Partial answer"))
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        for event in create(client, user("a"), stream=True):
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                received.append(event.delta.text)
    assert "".join(received) == "Partial answer"


def test_requests_the_api_would_refuse_are_refused(
    fake_llm: FakeLLM, client: anthropic.Anthropic
) -> None:
    with pytest.raises(anthropic.BadRequestError, match="top-level `system` parameter"):
        create(client, [{"role": "system", "content": "x"}, *user("a")])
    orphan = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9"}]}]
    with pytest.raises(anthropic.BadRequestError, match="unexpected `tool_use_id`"):
        create(client, orphan)
    unanswered = [
        *user("a"),
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
        },
        *user("b"),
    ]
    with pytest.raises(anthropic.BadRequestError, match="without `tool_result` blocks"):
        create(client, unanswered)
    with pytest.raises(anthropic.BadRequestError, match="non-empty"):
        create(client, [{"role": "user", "content": [{"type": "text", "text": ""}]}])
    missing = httpx.post(
        f"{fake_llm.url}/v1/messages",
        json={"model": MODEL, "messages": user("a")},
        headers={"anthropic-version": "2023-06-01"},
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == "max_tokens: Field required"
    assert fake_llm.pending == 0  # refused requests consume no script


def openai_answer(fake: FakeLLM, stream: bool) -> list[Any]:
    """One chat completion through OpenAI's SDK, read to its end."""
    with openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0) as sdk:
        answer = sdk.chat.completions.create(model="gpt-4o-mini", messages=user("b"), stream=stream)
        return list(answer) if stream else [answer]


def causes(error: BaseException) -> list[BaseException]:
    """``error`` and the exceptions it was raised from, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__
    return chain


@pytest.mark.parametrize("stream", [False, True])
def test_truncated_answers_drop_the_connection_on_both_wires(
    fake_llm: FakeLLM, client: anthropic.Anthropic, stream: bool
) -> None:
    fake_llm.script(reply.truncated_stream("Half an ans"), reply.truncated_stream("Half an ans"))
    received: list[str] = []
    if stream:
        with pytest.raises(Exception) as cut:
            for event in create(client, user("a"), stream=True):
                if event.type == "content_block_delta":
                    received.append(event.delta.text)
        assert "".join(received) == "Half an ans"
        # The HTTP library's RemoteProtocolError (whichever httpx flavour): raised as it is by
        # SDKs before 2.17, wrapped in APIConnectionError from 2.17 on.
        assert "RemoteProtocolError" in [type(error).__name__ for error in causes(cut.value)]
    else:
        with pytest.raises(anthropic.APIConnectionError):
            create(client, user("a"))
    with pytest.raises(openai.APIConnectionError):
        openai_answer(fake_llm, stream)


@pytest.mark.parametrize("stream", [False, True])
def test_broken_json_on_both_wires(
    fake_llm: FakeLLM, client: anthropic.Anthropic, stream: bool
) -> None:
    fake_llm.script(reply.broken_json(), reply.broken_json('{"choices": [nope'))
    with pytest.raises(json.JSONDecodeError):
        answer = create(client, user("a"), stream=stream)
        if stream:
            list(answer)
    with pytest.raises(json.JSONDecodeError):
        openai_answer(fake_llm, stream)


def test_api_key_enforcement_answers_authentication_error() -> None:
    with FakeLLM(api_key="right-key") as fake:
        with (
            anthropic.Anthropic(base_url=fake.url, api_key="wrong", max_retries=0) as sdk,
            pytest.raises(anthropic.AuthenticationError) as denied,
        ):
            sdk.models.list()
        assert denied.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
        with anthropic.Anthropic(base_url=fake.url, api_key="right-key", max_retries=0) as sdk:
            assert sdk.models.list().data


# ---------------------------------------------------------------------- request view


def test_fake_request_normalises_an_anthropic_body() -> None:
    thinking = {"type": "thinking", "thinking": "t", "signature": "s"}
    request = FakeRequest(
        method="POST",
        path="/v1/messages",
        headers={"anthropic-version": "2023-06-01"},
        body={
            "model": MODEL,
            "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"}]},
                {
                    "role": "assistant",
                    "content": [
                        thinking,
                        {"type": "text", "text": "calling"},
                        {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": 1}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [{"type": "text", "text": "r"}],
                        }
                    ],
                },
            ],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "f"},
        },
    )
    assert request.wire == "anthropic"
    assert request.system_text == "Be brief.\nBe kind."
    assert request.user_texts == ["a"]
    assert request.tool_results == ["r"]
    assert request.last_role == "tool"
    assistant = request.messages[2]
    assert assistant["content"] == "calling"
    assert assistant["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x": 1}'}
    assert request.thinking_blocks == [thinking]
    assert request.tools == [
        {
            "type": "function",
            "function": {"name": "f", "description": "", "parameters": {"type": "object"}},
        }
    ]
    assert request.tool_choice == {"type": "function", "function": {"name": "f"}}
    assert request.raw_messages[0]["content"] == [{"type": "text", "text": "a"}]
