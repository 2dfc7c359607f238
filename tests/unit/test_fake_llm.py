"""The fake LLM must look exactly like OpenAI to the official SDK.

Every test drives it through ``openai.OpenAI`` / ``openai.AsyncOpenAI`` over
real HTTP, because that is how the engram server will talk to it.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest

from engram.llm.tokens import counter_for_model
from tests.fakes import FakeLLM, FakeRequest, embed_text, fixtures, reply, tool_then_answer_handler

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = "gpt-4o-mini"

# Fixtures for this module (a conftest may import the same objects; that is harmless).
fake_llm_server = fixtures.fake_llm_server
fake_llm = fixtures.fake_llm

ARCHIVAL_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "archival_memory_insert",
        "description": "Store a passage in archival memory.",
        "parameters": {
            "type": "object",
            "properties": {"content": {"type": "string"}, "request_heartbeat": {"type": "boolean"}},
            "required": ["content", "request_heartbeat"],
        },
    },
}
CORE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "core_memory_append",
        "parameters": {
            "type": "object",
            "properties": {"label": {"type": "string"}, "content": {"type": "string"}},
            "required": ["label", "content"],
        },
    },
}


def user(text: str) -> list[Any]:
    return [
        {"role": "system", "content": "You are a helpful agent."},
        {"role": "user", "content": text},
    ]


@pytest.fixture
def client(fake_llm: FakeLLM) -> Iterator[openai.OpenAI]:
    """SDK client without retries so each scripted reply maps to one call."""
    with openai.OpenAI(
        base_url=fake_llm.base_url, api_key="sk-test", max_retries=0, timeout=10
    ) as sdk:
        yield sdk


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    )


# ---------------------------------------------------------------------- basics


def test_base_url_and_models(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    assert fake_llm.base_url.startswith("http://127.0.0.1:") and fake_llm.base_url.endswith("/v1")
    assert [m.id for m in client.models.list()] == [
        "gpt-4o-mini",
        "fake-small",
        "text-embedding-3-small",
    ]
    assert client.models.retrieve("fake-small").id == "fake-small"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_configurable_models_and_context_manager() -> None:
    started = time.monotonic()
    with FakeLLM(models=["m1", "m2"]) as fake:
        assert time.monotonic() - started < 1.0
        with openai.OpenAI(base_url=fake.base_url, api_key="x", max_retries=0) as sdk:
            assert [m.id for m in sdk.models.list()] == ["m1", "m2"]


def test_keep_alive_requests_are_fast(client: openai.OpenAI) -> None:
    """Guards the TCP_NODELAY fix: Nagle + delayed ACK used to add ~40 ms per request."""
    client.models.list()
    started = time.monotonic()
    for _ in range(20):
        client.models.list()
    assert time.monotonic() - started < 0.6


def test_text_reply_with_usage(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.script(reply.text("Hello there!"))
    messages = user("Hi, my name is Sam.")
    result = client.chat.completions.create(model=MODEL, messages=messages)
    choice = result.choices[0]
    assert choice.message.content == "Hello there!"
    assert choice.finish_reason == "stop"
    assert result.model == MODEL
    assert result.usage is not None
    # Counted as OpenAI counts a chat prompt: 3 priming + per message 3 + role + text.
    count = counter_for_model(MODEL).count
    expected = 3 + sum(3 + count(m["role"]) + count(m["content"]) for m in messages)
    assert result.usage.prompt_tokens == expected
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_scripted_token_counts_and_reasoning(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.script(
        reply.text("42", reasoning="Let me think.", prompt_tokens=1000, completion_tokens=7)
    )
    result = client.chat.completions.create(model=MODEL, messages=user("question"))
    assert (
        result.usage is not None
        and result.usage.prompt_tokens == 1000
        and result.usage.completion_tokens == 7
    )
    assert result.choices[0].message.model_extra == {"reasoning_content": "Let me think."}


def test_default_fallback_and_custom_fallback(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model=MODEL, messages=user("anything"))
    assert first.choices[0].message.content == "OK"
    fake_llm.fallback = lambda req: reply.text(f"echo {req.last_user_text}")
    second = client.chat.completions.create(model=MODEL, messages=user("ping"))
    assert second.choices[0].message.content == "echo ping"


# ---------------------------------------------------------------------- tool calls


def test_scripted_conversation_is_consumed_in_order(
    fake_llm: FakeLLM, client: openai.OpenAI
) -> None:
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "Dog is Rex"}),
        reply.tool_call("core_memory_append", {"label": "human", "content": "Has a dog"}),
        reply.text("Noted!"),
    )
    tools: Any = [ARCHIVAL_TOOL, CORE_TOOL]
    messages: list[Any] = user("My dog is Rex.")
    seen: list[tuple[str, dict[str, Any]]] = []
    for _ in range(3):
        result = client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
        message = result.choices[0].message
        if not message.tool_calls:
            assert message.content == "Noted!"
            break
        assert result.choices[0].finish_reason == "tool_calls"
        call = message.tool_calls[0]
        seen.append((call.function.name, json.loads(call.function.arguments)))
        messages.append(message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "ok"})
    assert seen == [
        ("archival_memory_insert", {"content": "Dog is Rex"}),
        ("core_memory_append", {"label": "human", "content": "Has a dog"}),
    ]
    assert fake_llm.pending == 0
    requests = fake_llm.chat_requests
    assert len(requests) == 3
    assert requests[0].tool_names == ["archival_memory_insert", "core_memory_append"]
    assert requests[0].system_text == "You are a helpful agent."
    assert requests[2].last_user_text == "My dog is Rex."
    assert requests[2].tool_results == ["ok", "ok"]
    assert requests[0].headers["authorization"] == "Bearer sk-test"


def test_parallel_tool_calls_raw_arguments_and_ids(
    fake_llm: FakeLLM, client: openai.OpenAI
) -> None:
    fake_llm.script(
        reply.tool_calls(
            [
                reply.call("archival_memory_insert", {"content": "a"}, id="call_fixed"),
                ("core_memory_append", {"label": "human", "content": "b"}),
            ],
            content="Saving both.",
        ),
        reply.raw_arguments("{not json"),
    )
    tools: Any = [ARCHIVAL_TOOL, CORE_TOOL]
    first = (
        client.chat.completions.create(model=MODEL, messages=user("x"), tools=tools)
        .choices[0]
        .message
    )
    assert first.content == "Saving both."
    assert first.tool_calls is not None
    assert [c.function.name for c in first.tool_calls] == [
        "archival_memory_insert",
        "core_memory_append",
    ]
    assert first.tool_calls[0].id == "call_fixed"
    assert first.tool_calls[1].id.startswith("call_") and first.tool_calls[1].id != "call_fixed"
    second = (
        client.chat.completions.create(model=MODEL, messages=user("y"), tools=tools)
        .choices[0]
        .message
    )
    assert second.tool_calls is not None
    # name=None resolves to the first tool the request offers; arguments stay verbatim
    assert second.tool_calls[0].function.name == "archival_memory_insert"
    assert second.tool_calls[0].function.arguments == "{not json"


def test_protocol_violations_are_rejected_like_openai(
    fake_llm: FakeLLM, client: openai.OpenAI
) -> None:
    orphan: Any = [
        {"role": "user", "content": "hi"},
        {"role": "tool", "tool_call_id": "call_x", "content": "r"},
    ]
    with pytest.raises(openai.BadRequestError) as orphan_err:
        client.chat.completions.create(model=MODEL, messages=orphan)
    assert (
        "must be a response to a preceeding message with 'tool_calls'" in orphan_err.value.message
    )
    unanswered: Any = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "user", "content": "again"},
    ]
    with pytest.raises(openai.BadRequestError, match="call_1"):
        client.chat.completions.create(model=MODEL, messages=unanswered)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=[])
    assert fake_llm.pending == 0 and len(fake_llm.chat_requests) == 3


# ---------------------------------------------------------------------- streaming


def test_streaming_text_chunks_and_usage(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    fake_llm.script(reply.text(text))
    stream = client.chat.completions.create(
        model=MODEL, messages=user("tell me"), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    content_pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(content_pieces) > 3 and "".join(content_pieces) == text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert (
        chunks[-1].choices == []
        and chunks[-1].usage is not None
        and chunks[-1].usage.total_tokens > 0
    )


def test_stream_helper_reassembles_text(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.script(reply.text("Streaming works fine."))
    deltas: list[str] = []
    with client.chat.completions.stream(model=MODEL, messages=user("s")) as stream:
        for event in stream:
            if event.type == "content.delta" and event.delta:
                deltas.append(event.delta)
        final = stream.get_final_completion()
    assert len(deltas) == 3
    assert final.choices[0].message.content == "Streaming works fine."
    # no include_usage requested => no usage chunk
    assert final.usage is None


def test_stream_helper_reassembles_parallel_tool_calls(
    fake_llm: FakeLLM, client: openai.OpenAI
) -> None:
    long_content = "Remember: " + "the dog is called Rex " * 5
    fake_llm.script(
        reply.tool_calls(
            [
                reply.call("archival_memory_insert", {"content": long_content}),
                reply.call("core_memory_append", {"label": "human", "content": "Has a dog"}),
            ]
        )
    )
    arg_deltas = 0
    tools: Any = [ARCHIVAL_TOOL, CORE_TOOL]
    with client.chat.completions.stream(model=MODEL, messages=user("dog"), tools=tools) as stream:
        for event in stream:
            if event.type == "tool_calls.function.arguments.delta":
                arg_deltas += 1
        final = stream.get_final_completion()
    assert arg_deltas > 10  # arguments really arrived in pieces
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["archival_memory_insert", "core_memory_append"]
    assert json.loads(calls[0].function.arguments) == {"content": long_content}
    assert json.loads(calls[1].function.arguments) == {"label": "human", "content": "Has a dog"}
    assert all(c.id.startswith("call_") for c in calls)


def test_raw_stream_tool_call_chunk_layout(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.script(reply.tool_call("archival_memory_insert", {"content": "Dog is Rex"}))
    tools: Any = [ARCHIVAL_TOOL]
    chunks = list(
        client.chat.completions.create(model=MODEL, messages=user("x"), tools=tools, stream=True)
    )
    tool_deltas = [
        c.choices[0].delta.tool_calls[0] for c in chunks if c.choices[0].delta.tool_calls
    ]
    assert (
        tool_deltas[0].id
        and tool_deltas[0].function
        and tool_deltas[0].function.name == "archival_memory_insert"
    )
    assert all(d.id is None and d.function and d.function.name is None for d in tool_deltas[1:])
    assert (
        "".join(d.function.arguments or "" for d in tool_deltas if d.function)
        == '{"content": "Dog is Rex"}'
    )
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


@pytest.mark.asyncio
async def test_async_client_streaming_and_tools(fake_llm: FakeLLM) -> None:
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "x"}), reply.text("async answer")
    )
    async with openai.AsyncOpenAI(base_url=fake_llm.base_url, api_key="x", max_retries=0) as sdk:
        tools: Any = [ARCHIVAL_TOOL]
        result = await sdk.chat.completions.create(model=MODEL, messages=user("a"), tools=tools)
        assert result.choices[0].message.tool_calls is not None
        async with sdk.chat.completions.stream(model=MODEL, messages=user("b")) as stream:
            async for _event in stream:
                pass
            final = await stream.get_final_completion()
        assert final.choices[0].message.content == "async answer"
        models = await sdk.models.list()
        assert "fake-small" in [m.id async for m in models]


# ---------------------------------------------------------------------- errors & delays


def test_error_reply_raises_api_status_error(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.script(
        reply.error(500, "boom"), reply.error(429, "slow down"), reply.error(400, "bad")
    )
    with pytest.raises(openai.APIStatusError) as err500:
        client.chat.completions.create(model=MODEL, messages=user("a"))
    assert err500.value.status_code == 500
    assert isinstance(err500.value, openai.InternalServerError)
    assert "boom" in err500.value.message
    assert err500.value.body == {
        "message": "boom",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.RateLimitError) as err429:
        client.chat.completions.create(model=MODEL, messages=user("b"), stream=True)
    assert err429.value.status_code == 429
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=user("c"))


def test_sdk_retries_consume_the_script(fake_llm: FakeLLM) -> None:
    fake_llm.script(reply.error(503, "overloaded", retry_after=0.01), reply.text("recovered"))
    with openai.OpenAI(base_url=fake_llm.base_url, api_key="x", max_retries=2) as sdk:
        result = sdk.chat.completions.create(model=MODEL, messages=user("r"))
    assert result.choices[0].message.content == "recovered"
    assert len(fake_llm.chat_requests) == 2
    fake_llm.script(reply.error(500, "fatal", should_retry=False))
    with (
        openai.OpenAI(base_url=fake_llm.base_url, api_key="x", max_retries=2) as sdk,
        pytest.raises(openai.InternalServerError),
    ):
        sdk.chat.completions.create(model=MODEL, messages=user("r"))
    assert len(fake_llm.chat_requests) == 3


def test_mid_stream_error(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.script(reply.error(500, "connection lost", partial_text="Partial answer"))
    received: list[str] = []
    with pytest.raises(openai.APIError, match="connection lost"):
        for chunk in client.chat.completions.create(model=MODEL, messages=user("a"), stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert "".join(received) == "Partial answer"


def test_delay_triggers_client_timeout(fake_llm: FakeLLM) -> None:
    fake_llm.script(reply.delay(2.0, then=reply.text("too late")), reply.text("fast", delay=0.05))
    with openai.OpenAI(base_url=fake_llm.base_url, api_key="x", max_retries=0, timeout=0.3) as sdk:
        with pytest.raises(openai.APITimeoutError):
            sdk.chat.completions.create(model=MODEL, messages=user("a"))
        assert (
            sdk.chat.completions.create(model=MODEL, messages=user("b")).choices[0].message.content
            == "fast"
        )


def test_api_key_enforcement() -> None:
    with FakeLLM(api_key="sk-right") as fake:
        with (
            openai.OpenAI(base_url=fake.base_url, api_key="sk-wrong", max_retries=0) as sdk,
            pytest.raises(openai.AuthenticationError),
        ):
            sdk.models.list()
        with openai.OpenAI(base_url=fake.base_url, api_key="sk-right", max_retries=0) as sdk:
            assert sdk.models.list().data


def test_handler_exception_is_recorded_and_answered_500() -> None:
    with FakeLLM() as fake:
        fake.script(lambda req: 1 / 0)
        with (
            openai.OpenAI(base_url=fake.base_url, api_key="x", max_retries=0) as sdk,
            pytest.raises(openai.InternalServerError, match="ZeroDivisionError"),
        ):
            sdk.chat.completions.create(model=MODEL, messages=user("a"))
        assert isinstance(fake.errors[0], ZeroDivisionError)


# ---------------------------------------------------------------------- embeddings


def test_embeddings_float_and_default_base64(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    texts = [
        "my dog Rex likes the park",
        "Rex the dog went to the park",
        "quarterly tax filing deadline",
    ]
    as_float = client.embeddings.create(
        model="text-embedding-3-small", input=texts, encoding_format="float"
    )
    default = client.embeddings.create(model="text-embedding-3-small", input=texts)
    assert fake_llm.embedding_requests[0].json["encoding_format"] == "float"
    assert fake_llm.embedding_requests[1].json["encoding_format"] == "base64"  # the SDK's default
    assert isinstance(default.data[0].embedding, list)  # SDK decoded base64 for us
    for f, d, text in zip(as_float.data, default.data, texts, strict=True):
        assert len(f.embedding) == 1536
        assert max(abs(a - b) for a, b in zip(f.embedding, d.embedding, strict=True)) < 1e-6
        assert f.embedding == pytest.approx(embed_text(text, 1536))
        assert math.isclose(sum(v * v for v in f.embedding), 1.0, rel_tol=1e-9)
    v = [d.embedding for d in as_float.data]
    assert cosine(v[0], v[1]) > 0.3 > cosine(v[0], v[2])
    assert as_float.usage.prompt_tokens > 0


def test_embeddings_dimensions_and_determinism(client: openai.OpenAI) -> None:
    first = client.embeddings.create(
        model="text-embedding-3-small", input="hello world", dimensions=64
    )
    second = client.embeddings.create(
        model="text-embedding-3-small", input="hello world", dimensions=64
    )
    assert len(first.data[0].embedding) == 64
    assert first.data[0].embedding == second.data[0].embedding


def test_embedding_errors_via_rule(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.when(
        lambda req: True, reply.error(500, "embedder down"), endpoint="embeddings", once=True
    )
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="text-embedding-3-small", input="x")
    assert client.embeddings.create(model="text-embedding-3-small", input="x").data


# ---------------------------------------------------------------------- rules, reset, concurrency


def test_rules_take_precedence_over_queue(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.script(reply.text("turn 1"), reply.text("turn 2"))
    summary_rule = fake_llm.when(
        lambda req: "summar" in req.system_text, reply.text("SUMMARY: dogs")
    )
    fake_llm.when(
        lambda req: req.last_user_text == "special", reply.text("special once"), once=True
    )

    def ask(system: str, text: str) -> str | None:
        messages: Any = [{"role": "system", "content": system}, {"role": "user", "content": text}]
        return (
            client.chat.completions.create(model=MODEL, messages=messages)
            .choices[0]
            .message.content
        )

    assert ask("You summarize conversations.", "...") == "SUMMARY: dogs"
    assert ask("agent", "special") == "special once"
    assert ask("agent", "hello") == "turn 1"
    assert ask("Please summarize.", "...") == "SUMMARY: dogs"  # persistent, queue untouched
    assert ask("agent", "special") == "turn 2"  # the once-rule is spent
    assert summary_rule.hits == 2
    summary_rule.cancel()
    assert ask("summarize", "...") == "OK"  # queue empty -> fallback


def test_dynamic_script_entries_and_wait(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.script(lambda req: reply.text(req.last_user_text.upper()))
    assert (
        client.chat.completions.create(model=MODEL, messages=user("shout"))
        .choices[0]
        .message.content
        == "SHOUT"
    )
    assert len(fake_llm.wait_for_requests(1, timeout=1)) == 1
    with pytest.raises(TimeoutError):
        fake_llm.wait_for_requests(2, timeout=0.05)


def test_reset_clears_everything(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.script(reply.text("queued"))
    fake_llm.when(lambda req: True, reply.text("rule"))
    fake_llm.fallback = lambda req: reply.text("custom")
    client.models.list()
    fake_llm.reset()
    assert fake_llm.requests == [] and fake_llm.pending == 0
    assert (
        client.chat.completions.create(model=MODEL, messages=user("a")).choices[0].message.content
        == "OK"
    )
    with pytest.raises(AssertionError):
        fake_llm.script(reply.text("left over")).assert_script_consumed()


@pytest.mark.asyncio
async def test_concurrent_requests_all_answered(fake_llm: FakeLLM) -> None:
    fake_llm.fallback = lambda req: reply.text(f"answer to {req.last_user_text}", delay=0.3)
    async with openai.AsyncOpenAI(base_url=fake_llm.base_url, api_key="x", max_retries=0) as sdk:
        started = time.monotonic()
        results = await asyncio.gather(
            *(sdk.chat.completions.create(model=MODEL, messages=user(f"q{i}")) for i in range(10))
        )
        elapsed = time.monotonic() - started
    assert sorted(r.choices[0].message.content or "" for r in results) == sorted(
        f"answer to q{i}" for i in range(10)
    )
    assert elapsed < 2.0  # served concurrently, not 10 x 0.3 s
    assert len(fake_llm.chat_requests) == 10


def test_concurrent_sync_clients_consume_queue_once(fake_llm: FakeLLM) -> None:
    fake_llm.script(*(reply.text(f"r{i}", chunk_delay=0.01) for i in range(10)))

    def call(i: int) -> str:
        with (
            openai.OpenAI(base_url=fake_llm.base_url, api_key="x", max_retries=0) as sdk,
            sdk.chat.completions.stream(model=MODEL, messages=user(f"q{i}")) as stream,
        ):
            return stream.get_final_completion().choices[0].message.content or ""

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(call, range(10)))
    assert sorted(answers) == sorted(f"r{i}" for i in range(10))
    assert fake_llm.pending == 0


# ---------------------------------------------------------------------- canned modes & CLI


def test_tool_then_answer_handler(fake_llm: FakeLLM, client: openai.OpenAI) -> None:
    fake_llm.fallback = tool_then_answer_handler()
    tools: Any = [CORE_TOOL, ARCHIVAL_TOOL]
    messages: list[Any] = user("Remember that I love jazz.")
    first = (
        client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
        .choices[0]
        .message
    )
    assert first.tool_calls is not None
    call = first.tool_calls[0]
    assert call.function.name == "archival_memory_insert"
    assert json.loads(call.function.arguments) == {
        "content": "Remember that I love jazz.",
        "request_heartbeat": True,
    }
    messages += [
        first.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "ok"},
    ]
    second = (
        client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
        .choices[0]
        .message
    )
    assert second.tool_calls is None and second.content == "Done."


def test_fake_request_helpers_on_list_content() -> None:
    request = FakeRequest(
        method="POST",
        path="/v1/chat/completions",
        headers={},
        body={
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                },
            ]
        },
    )
    assert request.system_text == "Be brief."
    assert request.last_user_text == "a\nb"
    assert request.tool_names == []


@pytest.mark.parametrize("mode", ["echo", "tool-then-answer"])
def test_standalone_cli(mode: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_llm", "--port", "0", "--mode", mode],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1"), (
            proc.stderr.read() if proc.stderr else ""
        )
        with openai.OpenAI(base_url=base_url, api_key="x", max_retries=0) as sdk:
            tools: Any = [ARCHIVAL_TOOL]
            result = sdk.chat.completions.create(
                model=MODEL, messages=user("hello bench"), tools=tools
            )
            message = result.choices[0].message
            if mode == "echo":
                assert message.content == "Echo: hello bench"
            else:
                assert (
                    message.tool_calls
                    and message.tool_calls[0].function.name == "archival_memory_insert"
                )
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
