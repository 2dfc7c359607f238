"""Scripted replies and recorded requests for the fake LLM.

Tests describe the conversation they expect with ``reply.*`` builders; the
server turns each reply into the exact wire format of the request (OpenAI chat
completions or Anthropic Messages). Keeping the script objects plain frozen
dataclasses means a script can be built once and reused safely across threads.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from . import anthropic_request

__all__ = [
    "BrokenJSONReply",
    "ErrorReply",
    "content_text",
    "FakeRequest",
    "Handler",
    "Reply",
    "ReplyBuilder",
    "Response",
    "TextReply",
    "ToolCall",
    "ToolCallsReply",
    "TruncatedReply",
    "Wire",
    "echo_handler",
    "ok_handler",
    "reply",
    "tool_then_answer_handler",
]


# --------------------------------------------------------------------------- requests


def content_text(content: Any) -> str:
    """Flatten OpenAI message content (string or list of parts) to plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
        return "\n".join(parts)
    return str(content)


Wire: TypeAlias = Literal["openai", "anthropic"]


@dataclass(frozen=True)
class FakeRequest:
    """One HTTP request the fake received; helpers read like the prompt under test.

    The chat helpers (``messages``, ``system_text``, ``tool_results``, ``tools``...)
    show an Anthropic Messages body in OpenAI's shape, so one predicate serves both
    wire formats; ``json`` and ``raw_messages`` keep the body as it was sent.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    raw_body: bytes = b""
    received_at: float = 0.0
    index: int = 0

    # -- generic ------------------------------------------------------------
    @property
    def json(self) -> dict[str, Any]:
        """The parsed JSON body, or an empty dict when it was not a JSON object."""
        return self.body if isinstance(self.body, dict) else {}

    @property
    def model(self) -> str | None:
        value = self.json.get("model")
        return value if isinstance(value, str) else None

    @property
    def wire(self) -> Wire:
        """Which API the client spoke: Anthropic's SDK always sends ``anthropic-version``."""
        if "anthropic-version" in self.headers or self.path.rstrip("/").endswith("/v1/messages"):
            return "anthropic"
        return "openai"

    @property
    def is_chat(self) -> bool:
        path = self.path.rstrip("/")
        return path.endswith("/chat/completions") or path.endswith("/v1/messages")

    @property
    def is_embeddings(self) -> bool:
        return self.path.rstrip("/").endswith("/embeddings")

    @property
    def stream(self) -> bool:
        return bool(self.json.get("stream"))

    @property
    def include_usage(self) -> bool:
        options = self.json.get("stream_options")
        return isinstance(options, Mapping) and bool(options.get("include_usage"))

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def api_key(self) -> str | None:
        """The key sent as ``x-api-key`` (Anthropic) or as a bearer token (OpenAI)."""
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        bearer = self.authorization or ""
        return bearer.removeprefix("Bearer ") if bearer.startswith("Bearer ") else None

    # -- chat ---------------------------------------------------------------
    @property
    def raw_messages(self) -> list[dict[str, Any]]:
        """``messages`` exactly as sent, in the request's own wire format."""
        value = self.json.get("messages")
        return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation as OpenAI-style messages (Anthropic ``system`` first)."""
        if self.wire == "anthropic":
            return anthropic_request.chat_messages(self.json)
        return self.raw_messages

    @property
    def thinking_blocks(self) -> list[dict[str, Any]]:
        """Anthropic thinking / redacted_thinking blocks the client sent back, in order."""
        if self.wire != "anthropic":
            return []
        return anthropic_request.thinking_blocks(self.json)

    def texts(self, role: str) -> list[str]:
        """Plain text of every message with ``role`` (in order)."""
        return [content_text(m.get("content")) for m in self.messages if m.get("role") == role]

    @property
    def system_text(self) -> str:
        """All system/developer text joined, so rules can match on the prompt."""
        return "\n".join(self.texts("system") + self.texts("developer"))

    @property
    def user_texts(self) -> list[str]:
        return self.texts("user")

    @property
    def last_user_text(self) -> str:
        texts = self.user_texts
        return texts[-1] if texts else ""

    @property
    def last_message(self) -> dict[str, Any]:
        messages = self.messages
        return messages[-1] if messages else {}

    @property
    def last_role(self) -> str | None:
        role = self.last_message.get("role")
        return role if isinstance(role, str) else None

    @property
    def tool_results(self) -> list[str]:
        """Contents of ``role: tool`` messages, i.e. what the agent fed back."""
        return self.texts("tool")

    @property
    def all_text(self) -> str:
        """Every message's text joined; handy for substring predicates."""
        return "\n".join(content_text(m.get("content")) for m in self.messages)

    @property
    def tools(self) -> list[dict[str, Any]]:
        """Offered tools as OpenAI ``function`` tools, whatever the wire format."""
        value = self.json.get("tools")
        if self.wire == "anthropic":
            return anthropic_request.chat_tools(value)
        return [t for t in value if isinstance(t, dict)] if isinstance(value, list) else []

    @property
    def tool_names(self) -> list[str]:
        names: list[str] = []
        for tool in self.tools:
            fn = tool.get("function")
            name = fn.get("name") if isinstance(fn, Mapping) else tool.get("name")
            if isinstance(name, str):
                names.append(name)
        return names

    def tool_schema(self, name: str) -> dict[str, Any] | None:
        """JSON-schema ``parameters`` of the named tool, if the request offered it."""
        for tool in self.tools:
            fn = tool.get("function")
            if isinstance(fn, Mapping) and fn.get("name") == name:
                params = fn.get("parameters")
                return dict(params) if isinstance(params, Mapping) else {}
        return None

    @property
    def tool_choice(self) -> Any:
        """OpenAI's vocabulary ("auto", "required", a named function) for both wires."""
        if self.wire == "anthropic":
            return anthropic_request.chat_tool_choice(self.json.get("tool_choice"))
        return self.json.get("tool_choice")

    # -- embeddings -----------------------------------------------------------
    @property
    def input_texts(self) -> list[str]:
        """Embedding inputs as strings (token-id inputs are rendered as ids)."""
        value = self.json.get("input")
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            if value and all(isinstance(v, int) for v in value):
                return [" ".join(f"tok{v}" for v in value)]
            out: list[str] = []
            for item in value:
                if isinstance(item, str):
                    out.append(item)
                elif isinstance(item, list):
                    out.append(" ".join(f"tok{v}" for v in item))
                else:
                    out.append(str(item))
            return out
        return []


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class ToolCall:
    """A single function call. ``arguments`` may be a dict or a raw string (sent verbatim).

    ``name=None`` means "the first tool the request offers", resolved at answer time.
    """

    name: str | None
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), ensure_ascii=False)


@dataclass(frozen=True, kw_only=True)
class Reply:
    """Base of everything the script can answer with.

    ``delay`` postpones the response headers (slow model / client timeouts);
    ``chunk_delay`` spaces SSE chunks (streaming cancellation tests);
    token counts override the deterministic usage estimate.
    """

    delay: float = 0.0
    chunk_delay: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True, kw_only=True)
class TextReply(Reply):
    """Plain assistant text, optionally with reasoning.

    OpenAI wire: ``reasoning`` is sent as ``reasoning_content``. Anthropic wire: it is a
    signed ``thinking`` block before the text, and ``redacted_thinking`` (opaque data)
    a ``redacted_thinking`` block before that; OpenAI has no equivalent of the latter.
    """

    content: str = ""
    reasoning: str | None = None
    redacted_thinking: str | None = None
    finish_reason: str = "stop"


@dataclass(frozen=True, kw_only=True)
class ToolCallsReply(Reply):
    """One or more (parallel) tool calls, optionally with assistant text alongside."""

    calls: tuple[ToolCall, ...] = ()
    content: str | None = None
    reasoning: str | None = None
    redacted_thinking: str | None = None
    finish_reason: str = "tool_calls"


@dataclass(frozen=True, kw_only=True)
class ErrorReply(Reply):
    """An error JSON body with an HTTP status, in the request's wire format.

    ``type`` and ``code`` are OpenAI's; on the Anthropic wire ``type`` is used only
    when it is one of Anthropic's error types, else it follows from the status
    (429 ``rate_limit_error``, 529 ``overloaded_error``, 5xx ``api_error``...).
    With ``partial_text`` set, a streaming request instead gets HTTP 200, some
    text chunks, then an in-stream error event (a provider failing
    mid-generation). ``should_retry`` sets ``x-should-retry`` which the openai
    SDK obeys; ``None`` leaves the SDK's default retry policy in charge.
    """

    status: int = 500
    message: str = "The fake server had an error while processing your request."
    type: str | None = None
    code: str | None = None
    param: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    should_retry: bool | None = None
    retry_after: float | None = None
    partial_text: str | None = None


@dataclass(frozen=True, kw_only=True)
class TruncatedReply(Reply):
    """The connection drops mid-answer: a streamed reply sends its opening and
    ``partial_text`` as deltas, then closes without the end of the stream; a JSON reply
    is cut off halfway through its body."""

    partial_text: str = ""


@dataclass(frozen=True, kw_only=True)
class BrokenJSONReply(Reply):
    """HTTP 200 with ``body``, which is not valid JSON: as the whole response body, or
    (streaming) as the data of the event after the stream's opening one."""

    body: str = '{"id": "broken", "content": [{"type": "text", "text": "Hel'


Handler: TypeAlias = Callable[[FakeRequest], Reply]
"""A function deciding a reply from the request (fallbacks, dynamic rules)."""

Response: TypeAlias = Reply | Handler
"""What a script entry or rule produces: a fixed reply or a handler."""


ToolCallSpec: TypeAlias = ToolCall | ToolCallsReply | tuple[str, Any] | Mapping[str, Any]


def _to_tool_calls(spec: ToolCallSpec) -> list[ToolCall]:
    if isinstance(spec, ToolCall):
        return [spec]
    if isinstance(spec, ToolCallsReply):
        return list(spec.calls)
    if isinstance(spec, tuple):
        name, arguments = spec
        return [ToolCall(name=name, arguments=arguments)]
    if isinstance(spec, Mapping):
        return [
            ToolCall(name=spec.get("name"), arguments=spec.get("arguments", {}), id=spec.get("id"))
        ]
    raise TypeError(f"cannot make a tool call from {spec!r}")


class ReplyBuilder:
    """Namespace of reply constructors (``reply.text``, ``reply.tool_call``, ...)."""

    @staticmethod
    def text(
        content: str,
        *,
        reasoning: str | None = None,
        redacted_thinking: str | None = None,
        finish_reason: str = "stop",
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> TextReply:
        return TextReply(
            content=content,
            reasoning=reasoning,
            redacted_thinking=redacted_thinking,
            finish_reason=finish_reason,
            delay=delay,
            chunk_delay=chunk_delay,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    @staticmethod
    def call(
        name: str | None, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None
    ) -> ToolCall:
        """A bare ToolCall, for composing ``reply.tool_calls([...])``."""
        return ToolCall(name=name, arguments={} if arguments is None else arguments, id=id)

    @staticmethod
    def tool_call(
        name: str | None,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        id: str | None = None,
        content: str | None = None,
        reasoning: str | None = None,
        redacted_thinking: str | None = None,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> ToolCallsReply:
        return ToolCallsReply(
            calls=(ToolCall(name=name, arguments={} if arguments is None else arguments, id=id),),
            content=content,
            reasoning=reasoning,
            redacted_thinking=redacted_thinking,
            delay=delay,
            chunk_delay=chunk_delay,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    @staticmethod
    def tool_calls(
        calls: Iterable[ToolCallSpec],
        *,
        content: str | None = None,
        reasoning: str | None = None,
        redacted_thinking: str | None = None,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> ToolCallsReply:
        """Parallel calls from ``reply.call(...)``, ``reply.tool_call(...)`` or ``(name, args)``."""
        flat: list[ToolCall] = []
        for spec in calls:
            flat.extend(_to_tool_calls(spec))
        if not flat:
            raise ValueError("reply.tool_calls needs at least one call")
        return ToolCallsReply(
            calls=tuple(flat),
            content=content,
            reasoning=reasoning,
            redacted_thinking=redacted_thinking,
            delay=delay,
            chunk_delay=chunk_delay,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    @staticmethod
    def raw_arguments(
        raw: str, name: str | None = None, *, id: str | None = None, delay: float = 0.0
    ) -> ToolCallsReply:
        """A tool call whose ``arguments`` string is sent verbatim (e.g. malformed JSON).

        ``name=None`` picks the first tool the request offers.
        """
        return ToolCallsReply(calls=(ToolCall(name=name, arguments=raw, id=id),), delay=delay)

    @staticmethod
    def error(
        status: int = 500,
        message: str = "The fake server had an error while processing your request.",
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        should_retry: bool | None = None,
        retry_after: float | None = None,
        partial_text: str | None = None,
        delay: float = 0.0,
    ) -> ErrorReply:
        return ErrorReply(
            status=status,
            message=message,
            type=type,
            code=code,
            param=param,
            headers=tuple((headers or {}).items()),
            should_retry=should_retry,
            retry_after=retry_after,
            partial_text=partial_text,
            delay=delay,
        )

    @staticmethod
    def truncated_stream(
        partial_text: str = "", *, delay: float = 0.0, chunk_delay: float = 0.0
    ) -> TruncatedReply:
        """The connection closes mid-answer, after ``partial_text`` (see TruncatedReply)."""
        return TruncatedReply(partial_text=partial_text, delay=delay, chunk_delay=chunk_delay)

    @staticmethod
    def broken_json(body: str | None = None, *, delay: float = 0.0) -> BrokenJSONReply:
        """A 200 answer that is not valid JSON (see BrokenJSONReply)."""
        if body is None:
            return BrokenJSONReply(delay=delay)
        return BrokenJSONReply(body=body, delay=delay)

    @staticmethod
    def delay(seconds: float, then: Reply | None = None) -> Reply:
        """``then`` answered after ``seconds`` (default: plain "OK")."""
        base = then if then is not None else TextReply(content="OK")
        return dataclasses.replace(base, delay=seconds)

    @staticmethod
    def echo(prefix: str = "You said: ") -> Handler:
        """A handler answering with the last user message (for rules/fallbacks)."""

        def handler(request: FakeRequest) -> Reply:
            return TextReply(content=f"{prefix}{request.last_user_text}")

        return handler


reply = ReplyBuilder()


# --------------------------------------------------------------------------- canned handlers


def ok_handler(request: FakeRequest) -> Reply:
    """Default fallback: a constant answer so unscripted calls never hang a test."""
    return TextReply(content="OK")


def echo_handler(request: FakeRequest) -> Reply:
    """Benchmark mode ``echo``: instant short answer derived from the user text."""
    text = " ".join(request.last_user_text.split())
    if len(text) > 80:
        text = text[:77] + "..."
    return TextReply(content=f"Echo: {text}" if text else "OK")


def _sample_value(name: str, schema: Mapping[str, Any], fill: str) -> Any:
    """A plausible value for one JSON-schema property (strings get the user text)."""
    if "enum" in schema and isinstance(schema["enum"], Sequence) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "boolean":
        return name == "request_heartbeat"
    if name == "label" and kind in (None, "string"):
        return "human"
    if kind == "integer":
        return 0
    if kind == "number":
        return 0.0
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return fill


def arguments_for(request: FakeRequest, tool_name: str) -> dict[str, Any]:
    """Fill a tool's required parameters from its schema using the last user text."""
    schema = request.tool_schema(tool_name) or {}
    props = schema.get("properties")
    props = props if isinstance(props, Mapping) else {}
    required = schema.get("required")
    names = list(required) if isinstance(required, list) else list(props)
    fill = request.last_user_text or "remember this"
    args: dict[str, Any] = {}
    for name in names:
        prop = props.get(name)
        args[name] = _sample_value(name, prop if isinstance(prop, Mapping) else {}, fill)
    return args


def _answered_tool_since_last_user(request: FakeRequest) -> bool:
    for message in reversed(request.messages):
        role = message.get("role")
        if role == "tool":
            return True
        if role == "user":
            return False
    return False


def tool_then_answer_handler(
    preferred_tool: str = "archival_memory_insert", answer: str = "Done."
) -> Handler:
    """Benchmark mode ``tool-then-answer``: call a tool once per user turn, then answer.

    The tool is ``preferred_tool`` if offered, else the first non-``send_message``
    tool. The answer is plain text, or a ``send_message`` call when the request
    forces a tool choice and offers ``send_message`` (Letta-style loops).
    """

    def handler(request: FakeRequest) -> Reply:
        names = request.tool_names
        if names and not _answered_tool_since_last_user(request):
            if preferred_tool in names:
                target = preferred_tool
            else:
                target = next((n for n in names if n != "send_message"), names[0])
            if target == "send_message":
                return ToolCallsReply(calls=(ToolCall(name=target, arguments={"message": answer}),))
            return ToolCallsReply(
                calls=(ToolCall(name=target, arguments=arguments_for(request, target)),)
            )
        choice = request.tool_choice
        forced = choice == "required" or isinstance(choice, Mapping)
        if forced and "send_message" in names:
            return ToolCallsReply(
                calls=(ToolCall(name="send_message", arguments={"message": answer}),)
            )
        return TextReply(content=answer)

    return handler
