"""OpenAI-format chat requests as Anthropic Messages bodies, and Anthropic content back
as a ``ChatResult``.

Pure functions on plain dicts, so the rules the Messages API enforces (system prompt
at the top level, strictly alternating turns, tool results inside a user turn, thinking
blocks sent back unchanged) can be tested without a server.
"""

from __future__ import annotations

import json
from typing import Any

from engram.llm.client import REASONING_BLOCKS, ChatRequest, ChatResult, ToolCall

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when neither the agent nor the model table sets one; the API needs one."""

THINKING_TYPES = frozenset({"thinking", "redacted_thinking"})

# Anthropic's stop reasons in the OpenAI vocabulary the rest of Engram speaks.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "refusal": "content_filter",
}


MIN_THINKING_BUDGET = 1024
"""The smallest thinking budget the Messages API accepts."""
MIN_ANSWER_TOKENS = 1024
"""Room left for the answer itself beside the thinking budget."""


def messages_body(request: ChatRequest, max_tokens: int) -> dict[str, Any]:
    """The ``POST /v1/messages`` body for ``request``."""
    system, turns = to_turns(request.messages)
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or max_tokens,
        "messages": turns,
    }
    if system:
        body["system"] = system
    if request.tools:
        body["tools"] = [to_tool(tool) for tool in request.tools]
        if request.parallel_tool_calls is False:
            body["tool_choice"] = {"type": "auto", "disable_parallel_tool_use": True}
    if request.reasoning_budget:
        # Extended thinking: the budget counts within max_tokens, and the API accepts no
        # temperature but the default with it.
        budget = max(MIN_THINKING_BUDGET, request.reasoning_budget)
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        body["max_tokens"] = max(body["max_tokens"], budget + MIN_ANSWER_TOKENS)
        return body
    if request.temperature is not None:
        # Anthropic's range is 0..1 where OpenAI's is 0..2; the scales are not the same
        # anyway, so keep the value and cap it.
        body["temperature"] = min(max(request.temperature, 0.0), 1.0)
    return body


def to_turns(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The system text (every system message, joined) and the alternating turns.

    Consecutive messages of the same Anthropic role merge into one turn: a run of tool
    results becomes one user turn, as the API wants every result of an assistant turn in
    the very next message. Messages with nothing to say are dropped, since the API
    rejects empty content.
    """
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            text = _text(message.get("content"))
            if text:
                system.append(text)
            continue
        if role == "assistant":
            blocks, turn_role = assistant_blocks(message), "assistant"
        elif role == "tool":
            blocks, turn_role = [tool_result_block(message)], "user"
        else:
            blocks, turn_role = _text_blocks(message.get("content")), "user"
        if not blocks:
            continue
        if turns and turns[-1]["role"] == turn_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": turn_role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            # Tool results must lead their user turn; the sort is stable.
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    return "\n\n".join(system), turns


def assistant_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Thinking blocks first (verbatim, signature included), then text, then tool uses."""
    blocks = [dict(block) for block in message.get(REASONING_BLOCKS) or ()]
    blocks += _text_blocks(message.get("content"))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": function.get("name", ""),
                "input": tool_input(function.get("arguments") or ""),
            }
        )
    return blocks


def tool_input(arguments: str) -> dict[str, Any]:
    """A call's raw argument text as the JSON object ``tool_use.input`` must be.

    Text that is not a JSON object (the model wrote broken JSON; the tool's error result
    says so) goes as ``{"INVALID_JSON": text}``, the wrapper Anthropic's docs suggest
    for sending invalid tool input back: the model still sees what it wrote."""
    if not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError:
        return {"INVALID_JSON": arguments}
    return parsed if isinstance(parsed, dict) else {"INVALID_JSON": arguments}


def tool_result_block(message: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    text = _text(message.get("content"))
    if text:
        block["content"] = text
    return block


def to_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI ``{"type": "function", "function": {...}}`` tool in Anthropic's shape."""
    function = tool.get("function", tool)
    out: dict[str, Any] = {
        "name": function["name"],
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _text_blocks(content: Any) -> list[dict[str, Any]]:
    # The API refuses text blocks that are empty or only whitespace.
    if isinstance(content, list) and any(_is_image(part) for part in content):
        return _mixed_blocks(content)
    text = _text(content)
    return [{"type": "text", "text": text}] if text.strip() else []


def _is_image(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image_url"


def _mixed_blocks(content: list[Any]) -> list[dict[str, Any]]:
    """Text and images in their order: each image as Anthropic's ``image`` block."""
    blocks: list[dict[str, Any]] = []
    for part in content:
        if _is_image(part):
            blocks.append(_image_block(str(part["image_url"]["url"])))
        elif isinstance(part, dict) and str(part.get("text") or "").strip():
            blocks.append({"type": "text", "text": part["text"]})
    return blocks


def _image_block(url: str) -> dict[str, Any]:
    """An image URL (or ``data:`` URL with base64 data) as an Anthropic image source."""
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url.removeprefix("data:").partition(";base64,")
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def chat_result(
    blocks: list[dict[str, Any]],
    *,
    model: str,
    input_tokens: int,
    output_tokens: int,
    stop_reason: str | None,
    ttft_ns: int | None,
) -> ChatResult:
    """Content blocks (as dicts, in order) as a ChatResult.

    A ``tool_use`` block carries its arguments either as the ``input`` object (a whole
    message) or as the raw JSON text streamed for it (``partial_json``), kept verbatim.
    """
    texts = [b["text"] for b in blocks if b["type"] == "text" and b.get("text")]
    thoughts = [b["thinking"] for b in blocks if b["type"] == "thinking" and b.get("thinking")]
    reasoning_blocks = [_reasoning_block(b) for b in blocks if b["type"] in THINKING_TYPES]
    calls = [
        ToolCall(id=b["id"], name=b["name"], arguments=_arguments(b))
        for b in blocks
        if b["type"] == "tool_use"
    ]
    return ChatResult(
        content="".join(texts) or None,
        tool_calls=calls,
        prompt_tokens=input_tokens,
        completion_tokens=output_tokens,
        model=model,
        finish_reason=_FINISH_REASONS.get(stop_reason or "", stop_reason),
        reasoning="\n\n".join(thoughts) or None,
        ttft_ns=ttft_ns,
        reasoning_blocks=reasoning_blocks or None,
    )


def _reasoning_block(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] == "thinking":
        return {
            "type": "thinking",
            "thinking": block.get("thinking", ""),
            "signature": block.get("signature", ""),
        }
    return {"type": "redacted_thinking", "data": block.get("data", "")}


def _arguments(block: dict[str, Any]) -> str:
    if "partial_json" in block:
        return block["partial_json"] or "{}"
    return json.dumps(block.get("input") or {}, ensure_ascii=False)
