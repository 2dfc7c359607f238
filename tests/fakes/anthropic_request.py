"""An Anthropic Messages request body seen through OpenAI chat-completions eyes.

Tests written against the fake's OpenAI view (``system_text``, ``tool_results``,
``last_user_text``...) then work unchanged whichever wire format the client used:
``FakeRequest`` runs Anthropic bodies through these pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["block_text", "chat_messages", "chat_tool_choice", "chat_tools", "thinking_blocks"]

THINKING_TYPES = ("thinking", "redacted_thinking")


def block_text(content: Any) -> str:
    """Text of a string content or of the ``text`` blocks of a block list."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [
        block["text"]
        for block in content
        if isinstance(block, Mapping)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    ]
    return "\n".join(parts)


def _blocks(content: Any) -> list[Mapping[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [block for block in content if isinstance(block, Mapping)]
    return []


def _user_turn(content: Any) -> list[dict[str, Any]]:
    """A user turn: one ``tool`` message per result block, text blocks as one ``user``."""
    out: list[dict[str, Any]] = []
    texts: list[str] = []
    for block in _blocks(content):
        if block.get("type") == "tool_result":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": block.get("tool_use_id"),
                    "content": block_text(block.get("content")),
                    "is_error": bool(block.get("is_error")),
                }
            )
        elif block.get("type") == "text":
            texts.append(str(block.get("text", "")))
    if texts or not out:
        out.append({"role": "user", "content": "\n".join(texts)})
    return out


def _assistant_turn(content: Any) -> dict[str, Any]:
    """An assistant turn: text joined, ``tool_use`` as tool_calls, thinking kept aside."""
    blocks = _blocks(content)
    text = block_text([b for b in blocks if b.get("type") == "text"])
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    calls = [
        {
            "id": block.get("id"),
            "type": "function",
            "function": {
                "name": block.get("name"),
                "arguments": json.dumps(block.get("input"), ensure_ascii=False),
            },
        }
        for block in blocks
        if block.get("type") == "tool_use"
    ]
    if calls:
        message["tool_calls"] = calls
    thinking = [dict(b) for b in blocks if b.get("type") in THINKING_TYPES]
    if thinking:
        message["thinking_blocks"] = thinking
    return message


def chat_messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's ``system`` and turns as OpenAI-style messages, system first."""
    out: list[dict[str, Any]] = []
    system = block_text(body.get("system"))
    if system:
        out.append({"role": "system", "content": system})
    turns = body.get("messages")
    for turn in turns if isinstance(turns, list) else []:
        if not isinstance(turn, Mapping):
            continue
        if turn.get("role") == "assistant":
            out.append(_assistant_turn(turn.get("content")))
        else:
            out.extend(_user_turn(turn.get("content")))
    return out


def chat_tools(tools: Any) -> list[dict[str, Any]]:
    """``{name, description, input_schema}`` tools as OpenAI ``function`` tools."""
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, Mapping) and isinstance(tool.get("name"), str):
            function = {
                "name": tool["name"],
                "description": tool.get("description", ""),
                "parameters": tool.get("input_schema") or {},
            }
            out.append({"type": "function", "function": function})
    return out


def chat_tool_choice(choice: Any) -> Any:
    """Anthropic's ``{"type": "any"|"auto"|"tool"|"none"}`` in OpenAI's vocabulary."""
    if not isinstance(choice, Mapping):
        return choice
    kind = choice.get("type")
    if kind == "any":
        return "required"
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return kind


def thinking_blocks(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every thinking / redacted_thinking block sent back in assistant turns, in order."""
    found: list[dict[str, Any]] = []
    turns = body.get("messages")
    for turn in turns if isinstance(turns, list) else []:
        if isinstance(turn, Mapping) and turn.get("role") == "assistant":
            found.extend(
                dict(b) for b in _blocks(turn.get("content")) if b.get("type") in THINKING_TYPES
            )
    return found
