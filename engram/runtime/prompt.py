"""Stored messages in the shape a chat-completions endpoint expects."""

from __future__ import annotations

from typing import Any

from engram.llm.client import REASONING_BLOCKS
from engram.store import tables as t

NOT_SENT_ROLES = frozenset({"approval"})
"""Roles of stored messages the model never sees: an approval answer reaches it as the
held calls' results (or the denial), which follow the calls as every provider expects."""


def to_chat(message: t.Message) -> dict[str, Any] | None:
    """The message as a chat-completions message; None for one the model does not see."""
    if message.role in NOT_SENT_ROLES:
        return None
    if message.role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": message.text}
        if message.reasoning_blocks:
            # Providers that take them back need them unchanged (Anthropic checks the
            # signatures); the others drop the key.
            out[REASONING_BLOCKS] = message.reasoning_blocks
        if message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
                for call in message.tool_calls
            ]
        return out
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text or ""}
    if message.content_parts:
        return {"role": message.role, "content": chat_parts(message.content_parts)}
    return {"role": message.role, "content": message.text or ""}


def chat_parts(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored content parts (Letta's text and image parts) as chat-completions parts: an
    image goes as ``image_url``, base64 data as a ``data:`` URL, which is how OpenAI's API
    takes it (llm/anthropic_convert.py turns it back into Anthropic's image block)."""
    out: list[dict[str, Any]] = []
    for part in parts:
        if part.get("type") != "image":
            out.append({"type": "text", "text": part.get("text") or ""})
            continue
        source = part["source"]
        if source.get("type") == "base64":
            image = {"url": f"data:{source['media_type']};base64,{source['data']}"}
            if source.get("detail"):
                image["detail"] = source["detail"]
        else:
            image = {"url": source["url"]}
        out.append({"type": "image_url", "image_url": image})
    return out


def with_heartbeat(schema: dict[str, Any]) -> dict[str, Any]:
    """memgpt-style agents chain tool calls by asking for a heartbeat in each call."""
    if schema["name"] == "send_message":
        return schema
    parameters = dict(schema.get("parameters") or {"type": "object", "properties": {}})
    properties = dict(parameters.get("properties") or {})
    properties["request_heartbeat"] = {
        "type": "boolean",
        "description": "Set true to be called again after this tool returns.",
    }
    parameters["properties"] = properties
    return {**schema, "parameters": parameters}


def as_openai_tool(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": schema}
