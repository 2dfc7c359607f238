"""Anthropic Messages wire format for the fake LLM (pure functions, no I/O).

The same scripted reply the OpenAI encoder renders as a chat completion is rendered
here as a Messages API ``message`` or its SSE event sequence, in the shapes the
official ``anthropic`` SDK parses (https://docs.anthropic.com/en/api/messages and
https://docs.anthropic.com/en/docs/build-with-claude/streaming).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from .anthropic_request import THINKING_TYPES
from .openai_wire import ResolvedCall, split_arguments, split_text, usage_for
from .replies import ErrorReply, FakeRequest, Reply, TextReply, ToolCallsReply, TruncatedReply

__all__ = [
    "MODEL_CREATED_AT",
    "error_body",
    "message_body",
    "model_json",
    "models_body",
    "opening_events",
    "stop_reason_for",
    "stream_events",
    "thinking_signature",
    "tool_input",
    "validate_messages_body",
]

Event = tuple[str, dict[str, Any]]
"""One SSE event: its ``event:`` name and its ``data:`` object."""

MODEL_CREATED_AT = "2025-02-19T00:00:00Z"

_STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_KNOWN_ERROR_TYPES = frozenset(_ERROR_TYPES.values())


# --------------------------------------------------------------------------- content


def thinking_signature(thinking: str) -> str:
    """The signature the fake puts on a thinking block; the fake rejects any other."""
    return "sig_" + hashlib.blake2b(thinking.encode("utf-8"), digest_size=16).hexdigest()


def stop_reason_for(finish_reason: str) -> str:
    """OpenAI's finish reasons in Anthropic's words; unknown ones pass through."""
    return _STOP_REASONS.get(finish_reason, finish_reason)


def tool_input(arguments: str) -> dict[str, Any]:
    """A call's arguments as a ``tool_use`` input object.

    A whole message can only carry an object, so a scripted malformed call comes
    wrapped as ``{"INVALID_JSON": raw}`` (the wrapper Anthropic's docs suggest for
    invalid tool input); a stream carries the raw text as it is."""
    try:
        parsed = json.loads(arguments) if arguments else {}
    except ValueError:
        return {"INVALID_JSON": arguments}
    return parsed if isinstance(parsed, dict) else {"INVALID_JSON": arguments}


def _blocks(reply: TextReply | ToolCallsReply, calls: Sequence[ResolvedCall]) -> list[dict]:
    """Content blocks in answer order: thinking, redacted thinking, text, tool uses."""
    blocks: list[dict[str, Any]] = []
    if reply.reasoning:
        blocks.append(
            {
                "type": "thinking",
                "thinking": reply.reasoning,
                "signature": thinking_signature(reply.reasoning),
            }
        )
    if reply.redacted_thinking:
        blocks.append({"type": "redacted_thinking", "data": reply.redacted_thinking})
    if reply.content:
        blocks.append({"type": "text", "text": reply.content, "citations": None})
    for call in calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": tool_input(call.arguments),
            }
        )
    return blocks


def _usage(
    reply: Reply, request: FakeRequest, calls: Sequence[ResolvedCall], content: str | None
) -> dict[str, Any]:
    reasoning = reply.reasoning if isinstance(reply, (TextReply, ToolCallsReply)) else None
    text = (content or "") + "".join(c.name + c.arguments for c in calls)
    counted = usage_for(reply, request, text, reasoning)
    return {
        "input_tokens": counted["prompt_tokens"],
        "output_tokens": counted["completion_tokens"],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "server_tool_use": None,
        "service_tier": "standard",
    }


def message_body(
    reply: TextReply | ToolCallsReply,
    request: FakeRequest,
    *,
    message_id: str,
    model: str,
    calls: Sequence[ResolvedCall],
) -> dict[str, Any]:
    """A non-streaming ``message`` object."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _blocks(reply, calls),
        "stop_reason": stop_reason_for(reply.finish_reason),
        "stop_sequence": None,
        "usage": _usage(reply, request, calls, reply.content),
    }


# --------------------------------------------------------------------------- streaming


def opening_events(
    reply: Reply, request: FakeRequest, *, message_id: str, model: str
) -> list[Event]:
    """``message_start`` (empty content, input tokens known) and a ``ping``."""
    usage = _usage(reply, request, (), None)
    usage["output_tokens"] = 1
    message = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return [("message_start", {"type": "message_start", "message": message}), _ping()]


def _ping() -> Event:
    return ("ping", {"type": "ping"})


def _block_events(index: int, block: Mapping[str, Any], arguments: str) -> list[Event]:
    """Start, deltas and stop of one content block, deltas word- or slice-sized."""
    kind = block["type"]
    if kind == "thinking":
        start: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in split_text(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "text":
        start = {"type": "text", "text": "", "citations": None}
        deltas = [{"type": "text_delta", "text": p} for p in split_text(block["text"])]
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        # Verbatim: a stream carries the model's raw JSON text, valid or not.
        pieces = ["", *split_arguments(arguments)]
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
    else:  # redacted_thinking arrives whole in its start event
        start, deltas = dict(block), []
    events: list[Event] = [
        (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
    ]
    events += [
        ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
        for d in deltas
    ]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def stream_events(
    reply: TextReply | ToolCallsReply | ErrorReply | TruncatedReply,
    request: FakeRequest,
    *,
    message_id: str,
    model: str,
    calls: Sequence[ResolvedCall],
) -> list[Event]:
    """Every SSE event of a streamed message, ``message_stop`` last.

    An ErrorReply (with ``partial_text``) ends after its text with an ``error`` event,
    as Anthropic reports an overload mid-stream; a TruncatedReply simply stops after its
    text (the server then drops the connection).
    """
    events = opening_events(reply, request, message_id=message_id, model=model)
    if isinstance(reply, (ErrorReply, TruncatedReply)):
        partial = {"type": "text", "text": reply.partial_text or ""}
        events += _block_events(0, partial, "")[:-1]  # the block never finishes
        if isinstance(reply, ErrorReply):
            events.append(("error", error_body(reply)))
        return events
    arguments = {call.id: call.arguments for call in calls}
    for index, block in enumerate(_blocks(reply, calls)):
        events += _block_events(index, block, arguments.get(block.get("id", ""), ""))
        if index == 0:
            events.append(_ping())
    usage = _usage(reply, request, calls, reply.content)
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason_for(reply.finish_reason), "stop_sequence": None},
        "usage": {"output_tokens": usage["output_tokens"]},
    }
    events += [("message_delta", delta), ("message_stop", {"type": "message_stop"})]
    return events


# --------------------------------------------------------------------------- errors & models


def error_body(reply: ErrorReply) -> dict[str, Any]:
    """Anthropic's ``{"type": "error", "error": {...}}``; the type defaults from the status."""
    kind = reply.type if reply.type in _KNOWN_ERROR_TYPES else None
    if kind is None:
        kind = _ERROR_TYPES.get(reply.status, "api_error" if reply.status >= 500 else None)
    return {
        "type": "error",
        "error": {"type": kind or "invalid_request_error", "message": reply.message},
    }


def model_json(model_id: str) -> dict[str, Any]:
    display = " ".join(part.capitalize() for part in model_id.split("-"))
    return {
        "type": "model",
        "id": model_id,
        "display_name": display,
        "created_at": MODEL_CREATED_AT,
    }


def models_body(models: Sequence[str]) -> dict[str, Any]:
    """One page holding every model, as ``GET /v1/models`` answers Anthropic's SDK."""
    return {
        "data": [model_json(m) for m in models],
        "has_more": False,
        "first_id": models[0] if models else None,
        "last_id": models[-1] if models else None,
    }


# --------------------------------------------------------------------------- validation


def _invalid(message: str) -> ErrorReply:
    return ErrorReply(status=400, message=message, type="invalid_request_error")


def _check_fields(body: Any) -> ErrorReply | None:
    if not isinstance(body, dict):
        return _invalid("There was an error parsing the body of your request as JSON.")
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return _invalid(f"{name}: Field required")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return _invalid("max_tokens: Input should be a positive integer")
    if not isinstance(body["messages"], list) or not body["messages"]:
        return _invalid("messages: at least one message is required")
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict) or "name" not in tool or "input_schema" not in tool:
            return _invalid("tools: each tool needs a `name` and an `input_schema`")
    return None


def _check_turn(i: int, turn: Any, last: bool) -> ErrorReply | None:
    """Role and content rules of one turn, wherever it stands."""
    if not isinstance(turn, dict):
        return _invalid(f"messages.{i}: Input should be a valid dictionary")
    role = turn.get("role")
    if role == "system":
        return _invalid(
            'messages: Unexpected role "system". The Messages API accepts a top-level '
            '`system` parameter, not "system" as an input message role.'
        )
    if role not in ("user", "assistant"):
        return _invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
    content = turn.get("content")
    if not content and not (last and role == "assistant"):
        return _invalid(
            f"messages.{i}: all messages must have non-empty content except for the "
            "optional final assistant message"
        )
    for j, block in enumerate(content if isinstance(content, list) else []):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and not block.get("text"):
            return _invalid("messages: text content blocks must be non-empty")
        if kind == "thinking" and block.get("signature") != thinking_signature(
            str(block.get("thinking", ""))
        ):
            return _invalid(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")
        if kind == "tool_result" and any(
            isinstance(b, dict) and b.get("type") != "tool_result" for b in content[:j]
        ):
            return _invalid(
                f"messages.{i}.content.{j}: tool_result blocks must come first in the content "
                "of a user message, before any other block"
            )
    return None


def _block_ids(turn: dict[str, Any], kind: str, key: str) -> list[str]:
    content = turn.get("content")
    blocks = content if isinstance(content, list) else []
    return [str(b.get(key)) for b in blocks if isinstance(b, dict) and b.get("type") == kind]


def _check_pairing(turns: list[dict[str, Any]]) -> ErrorReply | None:
    """Each tool_use is answered in the next turn, each tool_result answers the previous."""
    for i, turn in enumerate(turns):
        results = _block_ids(turn, "tool_result", "tool_use_id")
        asked = _block_ids(turns[i - 1], "tool_use", "id") if i else []
        stray = [r for r in results if turn["role"] != "user" or r not in asked]
        if stray:
            return _invalid(
                f"messages.{i}.content.0: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {', '.join(stray)}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        uses = _block_ids(turn, "tool_use", "id")
        answers = (
            _block_ids(turns[i + 1], "tool_result", "tool_use_id") if i + 1 < len(turns) else None
        )
        missing = [u for u in uses if answers is not None and u not in answers]
        if missing:
            return _invalid(
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message."
            )
    return None


def _check_thinking_first(
    turns: list[dict[str, Any]], thinking_tool_ids: Collection[str]
) -> ErrorReply | None:
    """The last assistant turn must lead with its thinking when the fake answered it with
    thinking and tool use: Anthropic's rule for tool use with extended thinking."""
    for i in range(len(turns) - 1, -1, -1):
        turn = turns[i]
        if turn["role"] != "assistant":
            continue
        if not any(u in thinking_tool_ids for u in _block_ids(turn, "tool_use", "id")):
            return None
        first = turn["content"][0] if isinstance(turn["content"], list) else {}
        kind = first.get("type") if isinstance(first, dict) else "text"
        if kind in THINKING_TYPES:
            return None
        return _invalid(
            f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            f"`{kind}`. When `thinking` is enabled, a final `assistant` message must start with "
            "a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` "
            "blocks). We recommend you include thinking blocks from previous turns."
        )
    return None


def validate_messages_body(body: Any, thinking_tool_ids: Collection[str] = ()) -> ErrorReply | None:
    """Reject what the Messages API rejects, so conversion bugs surface in tests.

    ``thinking_tool_ids`` are tool_use ids the fake issued beside a thinking block: a
    request replaying such a call must send that thinking back first.
    """
    invalid = _check_fields(body)
    if invalid is not None:
        return invalid
    turns = body["messages"]
    for i, turn in enumerate(turns):
        invalid = _check_turn(i, turn, last=i == len(turns) - 1)
        if invalid is not None:
            return invalid
    return _check_pairing(turns) or _check_thinking_first(turns, thinking_tool_ids)
