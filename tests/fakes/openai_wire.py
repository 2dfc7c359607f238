"""OpenAI wire-format encoding for the fake LLM (pure functions, no I/O).

Kept separate from the server so the exact JSON shapes the ``openai`` SDK
parses live in one place and can be reasoned about without threads.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .prompt_tokens import openai_prompt_tokens
from .replies import ErrorReply, FakeRequest, Reply, TextReply, ToolCallsReply, content_text

__all__ = [
    "ResolvedCall",
    "completion_body",
    "embed_text",
    "embeddings_body",
    "error_body",
    "estimate_tokens",
    "stream_payloads",
    "usage_for",
    "validate_chat_body",
]

SYSTEM_FINGERPRINT = "fp_fake_llm"
_WORD = re.compile(r"\w+", re.UNICODE)
_STREAM_PIECE = re.compile(r"\s*\S+|\s+")
ARGUMENT_PIECE_CHARS = 8


# --------------------------------------------------------------------------- tokens & usage


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate (chars // 4, at least 1 for non-empty text)."""
    return max(1, len(text) // 4) if text else 0


def _prompt_chars(messages: Sequence[Mapping[str, Any]]) -> int:
    total = 0
    for message in messages:
        total += len(content_text(message.get("content")))
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                fn = call.get("function") if isinstance(call, Mapping) else None
                if isinstance(fn, Mapping):
                    total += len(str(fn.get("name", ""))) + len(str(fn.get("arguments", "")))
    return total


@dataclass(frozen=True)
class ResolvedCall:
    """A tool call with its id and name fixed, ready to serialise."""

    id: str
    name: str
    arguments: str


def usage_for(
    reply: Reply, request: FakeRequest, completion_text: str, reasoning: str | None
) -> dict[str, Any]:
    """Usage block; scripted counts win over the OpenAI-style prompt count."""
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = (
            max(1, openai_prompt_tokens(request.body))
            if isinstance(request.body, dict)
            else max(1, _prompt_chars(request.messages) // 4)
        )
    reasoning_tokens = estimate_tokens(reasoning or "")
    completion = reply.completion_tokens
    if completion is None:
        completion = max(1, estimate_tokens(completion_text) + reasoning_tokens)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _completion_text(reply: Reply, calls: Sequence[ResolvedCall]) -> str:
    content = reply.content if isinstance(reply, (TextReply, ToolCallsReply)) else None
    return (content or "") + "".join(c.name + c.arguments for c in calls)


# --------------------------------------------------------------------------- chat completions


def _tool_call_json(call: ResolvedCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def completion_body(
    reply: TextReply | ToolCallsReply,
    request: FakeRequest,
    *,
    completion_id: str,
    created: int,
    model: str,
    calls: Sequence[ResolvedCall],
) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` object."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.content,
        "refusal": None,
        "annotations": [],
    }
    if calls:
        message["tool_calls"] = [_tool_call_json(c) for c in calls]
    if reply.reasoning is not None:
        message["reasoning_content"] = reply.reasoning
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": logprobs_for(reply.content, request),
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": usage_for(reply, request, _completion_text(reply, calls), reply.reasoning),
    }


def logprobs_for(content: str | None, request: FakeRequest) -> dict[str, Any] | None:
    """OpenAI's choice ``logprobs`` when the request asked (``logprobs: true``): one entry
    per word-sized token of the text, with ``top_logprobs`` alternatives; deterministic
    (the i-th token has log probability -0.01 * (i + 1))."""
    if not request.json.get("logprobs"):
        return None
    top = int(request.json.get("top_logprobs") or 0)
    entries = []
    for i, token in enumerate(split_text(content or "")):
        value = -0.01 * (i + 1)
        alternatives = [
            {"token": f"{token}~{k}" if k else token, "logprob": value - k, "bytes": None}
            for k in range(top)
        ]
        entries.append(
            {
                "token": token,
                "logprob": value,
                "bytes": list(token.encode()),
                "top_logprobs": alternatives,
            }
        )
    return {"content": entries, "refusal": None}


def split_text(text: str) -> list[str]:
    """Word-sized stream pieces (leading whitespace kept), like real token deltas."""
    return _STREAM_PIECE.findall(text) if text else []


def split_arguments(arguments: str) -> list[str]:
    """Arguments in small fixed-size slices so clients must really concatenate."""
    return [
        arguments[i : i + ARGUMENT_PIECE_CHARS]
        for i in range(0, len(arguments), ARGUMENT_PIECE_CHARS)
    ]


def stream_payloads(
    reply: TextReply | ToolCallsReply | ErrorReply,
    request: FakeRequest,
    *,
    completion_id: str,
    created: int,
    model: str,
    calls: Sequence[ResolvedCall],
) -> list[dict[str, Any] | str]:
    """Every SSE ``data:`` payload of a streamed completion, ``"[DONE]"`` last.

    Order mirrors OpenAI: role chunk, reasoning/content pieces, per tool call a
    header chunk (id + name) then argument slices, a finish chunk, an optional
    usage chunk with empty ``choices``. An ErrorReply with ``partial_text``
    ends with an in-stream error object and no ``[DONE]``.
    """
    include_usage = request.include_usage

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "service_tier": "default",
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            body["usage"] = None
        return body

    payloads: list[dict[str, Any] | str] = []
    if isinstance(reply, ErrorReply):
        payloads.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        payloads.extend(chunk({"content": piece}) for piece in split_text(reply.partial_text or ""))
        payloads.append(error_body(reply))
        return payloads

    first_content: str | None = "" if (isinstance(reply, TextReply) or reply.content) else None
    payloads.append(chunk({"role": "assistant", "content": first_content, "refusal": None}))
    if reply.reasoning:
        payloads.extend(
            chunk({"reasoning_content": piece}) for piece in split_text(reply.reasoning)
        )
    payloads.extend(chunk({"content": piece}) for piece in split_text(reply.content or ""))
    for index, call in enumerate(calls):
        header = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        payloads.append(chunk({"tool_calls": [header]}))
        for piece in split_arguments(call.arguments):
            payloads.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
    payloads.append(chunk({}, reply.finish_reason))
    if include_usage:
        payloads.append(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": SYSTEM_FINGERPRINT,
                "service_tier": "default",
                "choices": [],
                "usage": usage_for(reply, request, _completion_text(reply, calls), reply.reasoning),
            }
        )
    payloads.append("[DONE]")
    return payloads


# --------------------------------------------------------------------------- errors

_DEFAULT_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    422: "invalid_request_error",
    429: "requests",
}
_DEFAULT_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}


def error_body(reply: ErrorReply) -> dict[str, Any]:
    """OpenAI's ``{"error": {...}}`` body; type/code default from the status."""
    kind = reply.type or _DEFAULT_TYPES.get(
        reply.status, "server_error" if reply.status >= 500 else "invalid_request_error"
    )
    return {
        "error": {
            "message": reply.message,
            "type": kind,
            "param": reply.param,
            "code": reply.code if reply.code is not None else _DEFAULT_CODES.get(reply.status),
        }
    }


def error_headers(reply: ErrorReply) -> dict[str, str]:
    headers = dict(reply.headers)
    if reply.should_retry is not None:
        headers["x-should-retry"] = "true" if reply.should_retry else "false"
    if reply.retry_after is not None:
        headers["retry-after-ms"] = str(int(reply.retry_after * 1000))
        headers["retry-after"] = str(max(0, math.ceil(reply.retry_after)))
    return headers


_ORPHAN_TOOL = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
    "with 'tool_calls'."
)


def _unanswered(call_ids: Sequence[str]) -> ErrorReply:
    message = (
        "An assistant message with 'tool_calls' must be followed by tool messages responding to "
        "each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(call_ids)
    )
    return ErrorReply(status=400, message=message, param="messages")


def validate_chat_body(body: Any) -> ErrorReply | None:
    """Reject what the real API rejects, so protocol bugs surface in tests.

    Checks required fields and the tool-call pairing rules: each ``tool``
    message answers an id of the preceding assistant ``tool_calls``, and every
    such id gets an answer before the next non-tool message.
    """
    if not isinstance(body, dict):
        return ErrorReply(status=400, message="We could not parse the JSON body of your request.")
    if not isinstance(body.get("model"), str) or not body.get("model"):
        return ErrorReply(status=400, message="you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return ErrorReply(
            status=400,
            message="Missing required parameter: 'messages'."
            if messages is None
            else "Invalid 'messages': empty array.",
            param="messages",
            code="missing_required_parameter" if messages is None else "empty_array",
        )
    open_ids: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (
            "system",
            "developer",
            "user",
            "assistant",
            "tool",
            "function",
        ):
            return ErrorReply(
                status=400,
                message=f"Invalid value for 'messages[{i}].role'.",
                param=f"messages[{i}].role",
            )
        role = message["role"]
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_ids:
                return ErrorReply(status=400, message=_ORPHAN_TOOL, param=f"messages.[{i}].role")
            open_ids.remove(call_id)
            continue
        if open_ids:
            return _unanswered(open_ids)
        if role == "assistant" and isinstance(message.get("tool_calls"), list):
            open_ids = [str(c.get("id")) for c in message["tool_calls"] if isinstance(c, dict)]
    if open_ids:
        return _unanswered(open_ids)
    return None


# --------------------------------------------------------------------------- embeddings


def _bucket(token: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, 1.0 if (value >> 63) & 1 else -1.0


def embed_text(text: str, dim: int = 1536) -> list[float]:
    """Hashed bag-of-words, L2-normalised: shared words => higher cosine similarity.

    A stable hash (not ``hash()``) keeps vectors identical across processes.
    Text without words maps to a fixed unit vector rather than zeros.
    """
    if dim <= 0:
        raise ValueError("dimension must be positive")
    vector = [0.0] * dim
    tokens = [t.lower() for t in _WORD.findall(text)] or ["<empty>"]
    for token in tokens:
        index, sign = _bucket(token, dim)
        vector[index] += sign
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:  # all buckets cancelled out; fall back to a fixed direction
        index, sign = _bucket("<empty>", dim)
        vector[index] = sign
        norm = 1.0
    return [v / norm for v in vector]


def encode_embedding(vector: Sequence[float], encoding_format: str) -> list[float] | str:
    """``float`` => JSON list; ``base64`` => little-endian float32 bytes, as OpenAI sends."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return list(vector)


def embeddings_body(
    texts: Sequence[str], *, model: str, dim: int, encoding_format: str
) -> dict[str, Any]:
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": encode_embedding(embed_text(text, dim), encoding_format),
        }
        for i, text in enumerate(texts)
    ]
    tokens = sum(max(1, estimate_tokens(t)) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
