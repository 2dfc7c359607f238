"""Reading tool calls out of a model's text, and writing a transcript back in the same form
(engram/llm/text_tools.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from engram.llm.client import ChatRequest, ChatResult, ContentDelta, DeltaSink
from engram.llm.text_tools import (
    MALFORMED_CALL,
    TextToolCalls,
    as_text_request,
    parse_reply,
    render_transcript,
)


def calls_of(text: str) -> list[tuple[str, Any]]:
    """(name, arguments) of each call read from ``text``; arguments parsed when JSON."""
    out = []
    for call in parse_reply(text)[1]:
        assert call.id.startswith("call_") and len(call.id) > len("call_")
        try:
            arguments = json.loads(call.arguments)
        except json.JSONDecodeError:
            arguments = call.arguments
        out.append((call.name, arguments))
    return out


# --------------------------------------------------------------------------- parsing


def test_plain_text_is_content_without_calls() -> None:
    assert parse_reply("Hello, Ada. {not json} and {} here.") == (
        "Hello, Ada. {not json} and {} here.",
        [],
    )
    assert parse_reply("   ") == (None, [])


def test_a_fenced_block_is_a_call_and_the_text_around_it_is_content() -> None:
    text = 'Saving that.\n\n```json\n{"tool": "remember", "arguments": {"fact": "tea"}}\n```\n'
    content, calls = parse_reply(text)
    assert content == "Saving that."
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("remember", {"fact": "tea"})]


def test_an_unlabelled_fence_and_a_bare_object_are_calls_too() -> None:
    assert calls_of('```\n{"tool": "a", "arguments": {"x": 1}}\n```') == [("a", {"x": 1})]
    assert calls_of('{"tool": "b", "arguments": {}}') == [("b", {})]
    assert parse_reply('First this. {"tool": "c", "arguments": {}} Then that.')[0] == (
        "First this.  Then that."
    )


def test_mixed_text_and_calls_keep_the_calls_in_the_order_written() -> None:
    text = (
        "One:\n"
        '```json\n{"tool": "first", "arguments": {}}\n```\n'
        'Two: {"tool": "second", "arguments": {"n": 2}}\n'
        "Three:\n"
        '```json\n{"tool": "third", "arguments": {}}\n{"tool": "fourth", "arguments": {}}\n```'
    )
    content, calls = parse_reply(text)
    assert [c.name for c in calls] == ["first", "second", "third", "fourth"]
    assert content == "One:\n\nTwo: \nThree:"
    assert len({c.id for c in calls}) == 4


def test_a_block_holding_a_list_of_calls_is_every_call() -> None:
    text = '```json\n[{"tool": "a", "arguments": {}}, {"tool": "b", "arguments": {}}]\n```'
    assert calls_of(text) == [("a", {}), ("b", {})]


def test_braces_and_fences_inside_strings_do_not_end_a_call() -> None:
    value = 'He wrote "{curly}" and } and {{ and a ``` fence'
    text = "```json\n" + json.dumps({"tool": "note", "arguments": {"text": value}}) + "\n```"
    assert calls_of(text) == [("note", {"text": value})]
    bare = json.dumps({"tool": "note", "arguments": {"nested": {"deep": {"text": "}{"}}}})
    assert calls_of(f"ok {bare} done") == [("note", {"nested": {"deep": {"text": "}{"}}})]


def test_name_and_parameters_are_accepted_as_llama_style_models_write_them() -> None:
    assert calls_of('{"name": "search", "parameters": {"q": "x"}}') == [("search", {"q": "x"})]
    # A plain object with a name is data, not a call.
    assert parse_reply('{"name": "Ada", "age": 36}') == ('{"name": "Ada", "age": 36}', [])


def test_arguments_given_as_a_string_are_taken_as_the_json_text() -> None:
    assert calls_of('{"tool": "a", "arguments": "{\\"x\\": 1}"}') == [("a", {"x": 1})]
    assert calls_of('{"tool": "a"}') == [("a", {})]


def test_json_that_is_not_a_call_and_other_code_blocks_stay_content() -> None:
    data = 'Here it is:\n```json\n{"city": "Paris"}\n```'
    assert parse_reply(data) == (data, [])
    code = 'Try:\n```python\nprint({"tool": "x", "arguments": {}})\n```'
    assert parse_reply(code) == (code, [])


def test_a_malformed_fenced_block_is_a_call_to_the_tool_it_names_with_its_raw_text() -> None:
    block = '{"tool": "core_memory_append", "arguments": {"label": "human",}}'
    content, calls = parse_reply(f"Saving.\n```json\n{block}\n```")
    assert content == "Saving."
    assert [(c.name, c.arguments) for c in calls] == [("core_memory_append", block)]


def test_a_malformed_block_naming_no_tool_is_a_call_to_malformed_tool_call() -> None:
    assert calls_of("```json\n{tool: remember}\n```") == [(MALFORMED_CALL, "{tool: remember}")]


def test_a_reply_that_is_one_broken_object_is_a_malformed_call() -> None:
    text = '{"tool": "remember", "arguments": {"fact": "tea"'
    assert calls_of(text) == [("remember", text)]


def test_a_block_cut_off_before_its_closing_fence_is_still_read() -> None:
    assert calls_of('```json\n{"tool": "a", "arguments": {"x": 1}}') == [("a", {"x": 1})]


# --------------------------------------------------------------------------- the request


def native_transcript() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "I like tea and jazz."},
        {
            "role": "assistant",
            "content": "Saving.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "remember", "arguments": '{"fact": "tea"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "remember", "arguments": '{"fact": "jazz",}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "saved"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Error: bad arguments"},
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "Thanks."},
    ]


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "remember",
            "description": "Keep a fact.",
            "parameters": {"type": "object", "properties": {"fact": {"type": "string"}}},
        },
    }
]


def test_the_request_has_no_tools_and_the_system_message_lists_them() -> None:
    request = ChatRequest(
        model="m", messages=native_transcript(), tools=TOOLS, parallel_tool_calls=False
    )
    text = as_text_request(request)
    assert text.tools == [] and text.parallel_tool_calls is None
    system = text.messages[0]
    assert system["role"] == "system"
    assert system["content"].startswith("You are helpful.\n\n# Calling tools")
    assert "## remember\nKeep a fact." in system["content"]
    assert json.dumps(TOOLS[0]["function"]["parameters"]) in system["content"]
    assert request.messages == native_transcript()  # the caller's request is left alone


def test_the_transcript_writes_calls_as_blocks_and_results_as_one_marked_user_message() -> None:
    messages = render_transcript(native_transcript())
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert messages[2] == {
        "role": "assistant",
        "content": 'Saving.\n\n```json\n{"tool": "remember", "arguments": {"fact": "tea"}}\n```'
        '\n\n```json\n{"fact": "jazz",}\n```',
    }
    results = messages[3]["content"]
    assert results.startswith('<tool_result tool="remember" call_id="call_1">\nsaved\n')
    assert '<tool_result tool="remember" call_id="call_2">\nError: bad arguments\n' in results
    assert "does not parse" in results.split("call_2")[1]
    assert "does not parse" not in results.split("call_2")[0]
    assert messages[5] == {"role": "user", "content": "Thanks."}


def test_a_request_without_a_system_message_gets_one() -> None:
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}], tools=TOOLS)
    messages = as_text_request(request).messages
    assert messages[0]["role"] == "system" and "## remember" in messages[0]["content"]
    assert messages[1] == {"role": "user", "content": "hi"}


# --------------------------------------------------------------------------- the client


class ScriptedModel:
    """An inner client answering with fixed text and recording what it was asked."""

    def __init__(self, content: str, reasoning: str | None = None) -> None:
        self.content, self.reasoning = content, reasoning
        self.requests: list[tuple[ChatRequest, bool]] = []

    async def chat(self, request: ChatRequest, on_delta: DeltaSink | None = None) -> ChatResult:
        self.requests.append((request, on_delta is not None))
        return ChatResult(
            content=self.content,
            tool_calls=[],
            prompt_tokens=10,
            completion_tokens=5,
            model="m",
            finish_reason="stop",
            reasoning=self.reasoning,
        )


@pytest.mark.parametrize("streaming", [False, True])
def test_the_client_returns_parsed_calls_and_streams_only_the_parsed_text(
    streaming: bool,
) -> None:
    inner = ScriptedModel(
        'Noting it.\n```json\n{"tool": "remember", "arguments": {"fact": "tea"}}\n```',
        reasoning="The user likes tea.",
    )
    deltas: list[ContentDelta] = []

    async def sink(delta: ContentDelta) -> None:
        deltas.append(delta)

    request = ChatRequest(model="m", messages=native_transcript(), tools=TOOLS)
    result = asyncio.run(TextToolCalls(inner).chat(request, sink if streaming else None))

    assert result.content == "Noting it."
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("remember", '{"fact": "tea"}')]
    assert result.finish_reason == "tool_calls"
    assert (result.prompt_tokens, result.completion_tokens) == (10, 5)
    sent, streamed = inner.requests[0]
    assert sent.tools == [] and not streamed
    if streaming:
        assert deltas == [
            ContentDelta(kind="reasoning", text="The user likes tea."),
            ContentDelta(kind="content", text="Noting it."),
        ]
    else:
        assert deltas == []


def test_a_plain_answer_keeps_the_model_finish_reason() -> None:
    inner = ScriptedModel("Just an answer.")
    result = asyncio.run(TextToolCalls(inner).chat(ChatRequest(model="m", messages=[])))
    assert result == ChatResult(
        content="Just an answer.",
        tool_calls=[],
        prompt_tokens=10,
        completion_tokens=5,
        model="m",
        finish_reason="stop",
    )


def test_non_ascii_arguments_stay_readable_in_calls_and_history() -> None:
    (call,) = parse_reply('{"tool": "remember", "arguments": {"fact": "Zoë likes crème brûlée"}}')[
        1
    ]
    assert call.arguments == '{"fact": "Zoë likes crème brûlée"}'
    history = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c", "function": {"name": "remember", "arguments": call.arguments}}
            ],
        }
    ]
    assert "Zoë likes crème brûlée" in render_transcript(history)[0]["content"]
