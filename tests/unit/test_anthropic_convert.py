"""OpenAI-format prompts become valid Anthropic Messages bodies, and answers come back."""

from __future__ import annotations

import json
from typing import Any

from engram.llm.anthropic_convert import (
    DEFAULT_MAX_TOKENS,
    chat_result,
    messages_body,
    to_turns,
)
from engram.llm.client import REASONING_BLOCKS, ChatRequest, ToolCall

THINKING = {"type": "thinking", "thinking": "Store the name.", "signature": "sig_abc"}
REDACTED = {"type": "redacted_thinking", "data": "EqQBCkYI"}


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_system_messages_move_to_the_top_level_joined() -> None:
    system, turns = to_turns(
        [
            {"role": "system", "content": "You are Sam's agent."},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "Memory was compacted."},
        ]
    )
    assert system == "You are Sam's agent.\n\nMemory was compacted."
    assert turns == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_tool_calls_become_tool_use_and_results_one_user_turn() -> None:
    _, turns = to_turns(
        [
            {"role": "user", "content": "Remember I like tea."},
            {
                "role": "assistant",
                "content": "Saving both.",
                "tool_calls": [
                    call("call_1", "core_memory_append", '{"label": "human", "content": "tea"}'),
                    call("call_2", "archival_memory_insert", '{"content": "likes tea"}'),
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "appended"},
            {"role": "tool", "tool_call_id": "call_2", "content": "inserted"},
        ]
    )
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [
        {"type": "text", "text": "Saving both."},
        {
            "type": "tool_use",
            "id": "call_1",
            "name": "core_memory_append",
            "input": {"label": "human", "content": "tea"},
        },
        {
            "type": "tool_use",
            "id": "call_2",
            "name": "archival_memory_insert",
            "input": {"content": "likes tea"},
        },
    ]
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "appended"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "inserted"},
    ]


def test_consecutive_same_role_messages_merge_and_results_lead() -> None:
    _, turns = to_turns(
        [
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": None, "tool_calls": [call("c1", "f", "{}")]},
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
            {"role": "user", "content": "and another thing"},
            {"role": "assistant", "content": "one"},
            {"role": "assistant", "content": "two"},
        ]
    )
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert [b["text"] for b in turns[0]["content"]] == ["first", "second"]
    assert [b["type"] for b in turns[2]["content"]] == ["tool_result", "text"]
    assert [b["text"] for b in turns[3]["content"]] == ["one", "two"]


def test_empty_messages_are_dropped_so_turns_still_alternate() -> None:
    _, turns = to_turns(
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": None},
            {"role": "assistant", "content": "  "},
            {"role": "user", "content": "b"},
            {"role": "tool", "tool_call_id": "x", "content": ""},
        ]
    )
    assert turns == [
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "x"},
                {"type": "text", "text": "a"},
                {"type": "text", "text": "b"},
            ],
        }
    ]


def test_unparseable_arguments_go_wrapped_keeping_the_raw_text() -> None:
    _, turns = to_turns(
        [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [call("c1", "f", '{"label": "hu'), call("c2", "g", "")],
            },
        ]
    )
    inputs = [block["input"] for block in turns[1]["content"]]
    assert inputs == [{"INVALID_JSON": '{"label": "hu'}, {}]


def test_reasoning_blocks_lead_their_assistant_turn_unchanged() -> None:
    _, turns = to_turns(
        [
            {"role": "user", "content": "I am Sam"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [call("toolu_1", "core_memory_append", '{"label": "human"}')],
                REASONING_BLOCKS: [THINKING, REDACTED],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "ok"},
        ]
    )
    assert turns[1]["content"][:2] == [THINKING, REDACTED]
    assert turns[1]["content"][2]["type"] == "tool_use"


def test_body_has_tools_max_tokens_and_capped_temperature() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "core_memory_append",
            "description": "Append to a block.",
            "parameters": {"type": "object", "properties": {"label": {"type": "string"}}},
        },
    }
    request = ChatRequest(
        model="claude-fake",
        messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}],
        tools=[tool],
        temperature=1.4,
        parallel_tool_calls=False,
    )
    body = messages_body(request, DEFAULT_MAX_TOKENS)
    assert body["system"] == "sys"
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS
    assert body["temperature"] == 1.0
    assert body["tools"] == [
        {
            "name": "core_memory_append",
            "input_schema": {"type": "object", "properties": {"label": {"type": "string"}}},
            "description": "Append to a block.",
        }
    ]
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    request.max_tokens = 300
    assert messages_body(request, DEFAULT_MAX_TOKENS)["max_tokens"] == 300


def test_answer_blocks_map_to_a_chat_result() -> None:
    result = chat_result(
        [
            {**THINKING, "extra": None},
            REDACTED,
            {"type": "text", "text": "Saved.", "citations": None},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1, "é"]}},
            {"type": "tool_use", "id": "toolu_2", "name": "g", "partial_json": '{"b": 2}'},
        ],
        model="claude-fake",
        input_tokens=120,
        output_tokens=30,
        stop_reason="tool_use",
        ttft_ns=5,
    )
    assert result.content == "Saved."
    assert result.reasoning == "Store the name."
    assert result.reasoning_blocks == [THINKING, REDACTED]
    assert result.tool_calls == [
        ToolCall(id="toolu_1", name="f", arguments=json.dumps({"a": [1, "é"]}, ensure_ascii=False)),
        ToolCall(id="toolu_2", name="g", arguments='{"b": 2}'),
    ]
    assert (result.prompt_tokens, result.completion_tokens) == (120, 30)
    assert result.finish_reason == "tool_calls"


def test_stop_reasons_speak_openai() -> None:
    def finish(reason: str | None) -> str | None:
        blocks = [{"type": "text", "text": "x"}]
        return chat_result(
            blocks, model="m", input_tokens=0, output_tokens=0, stop_reason=reason, ttft_ns=None
        ).finish_reason

    assert [finish(r) for r in ("end_turn", "max_tokens", "stop_sequence", "pause_turn")] == [
        "stop",
        "length",
        "stop",
        "pause_turn",
    ]
