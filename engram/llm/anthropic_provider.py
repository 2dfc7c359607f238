"""Anthropic's Messages API, through the official ``anthropic`` SDK."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
from anthropic import AsyncStream
from anthropic.types import Message, RawMessageStreamEvent

from engram.errors import ContextOverflow, ProviderError, is_context_overflow
from engram.llm.anthropic_convert import DEFAULT_MAX_TOKENS, chat_result, messages_body
from engram.llm.client import ChatRequest, ChatResult, ContentDelta, DeltaSink
from engram.llm.model_facts import max_output_tokens_for


class AnthropicProvider:
    """Chat and model listing against Anthropic (or a server speaking its Messages API)."""

    kind = "anthropic"

    def __init__(
        self,
        name: str,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        max_retries: int = 2,
    ) -> None:
        self.name = name
        self.base_url = base_url or "https://api.anthropic.com"
        # A key is always passed, so the SDK never goes looking for credentials elsewhere;
        # servers that speak the API locally take any.
        self.client = anthropic.AsyncAnthropic(
            api_key=api_key or "no-key",
            base_url=self.base_url,
            timeout=timeout,
            max_retries=max_retries,
        )

    async def list_models(self) -> list[dict[str, Any]]:
        """The model list's entries as JSON objects (with ``max_input_tokens`` and
        ``max_tokens`` where the API states them)."""
        try:
            return [model.to_dict() async for model in self.client.models.list()]
        except anthropic.AnthropicError as exc:
            raise ProviderError(f"provider '{self.name}' model list failed: {exc}") from exc

    async def chat(self, request: ChatRequest, on_delta: DeltaSink | None = None) -> ChatResult:
        # Posted through the SDK's low-level ``post``, as the OpenAI provider does: the
        # body is plain JSON already, and ``messages.create`` would both walk it against
        # its TypedDicts and refuse non-streamed calls whose max_tokens it finds large.
        # The API insists on max_tokens; the agent's budget normally sets it.
        body = messages_body(request, max_output_tokens_for(request.model) or DEFAULT_MAX_TOKENS)
        try:
            if on_delta is None:
                return await self._complete(body)
            return await self._stream(body, on_delta)
        except anthropic.APIStatusError as exc:
            raise self._status_error(exc) from exc
        except anthropic.APIConnectionError as exc:
            cause = f" ({type(exc.__cause__).__name__}: {exc.__cause__})" if exc.__cause__ else ""
            raise ProviderError(f"provider '{self.name}' connection failed: {exc}{cause}") from exc
        except anthropic.AnthropicError as exc:
            raise ProviderError(f"provider '{self.name}' failed: {exc}") from exc

    async def close(self) -> None:
        await self.client.close()

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        raise ProviderError(
            f"provider '{self.name}': Anthropic offers no embedding models; "
            "choose an embedding handle of another provider or the local model"
        )

    async def _complete(self, body: dict[str, Any]) -> ChatResult:
        started = time.perf_counter_ns()
        try:
            message = await self.client.post("/v1/messages", body=body, cast_to=Message)
        except json.JSONDecodeError as exc:  # the SDK lets a body that is not JSON through
            raise ProviderError(
                f"provider '{self.name}' answered with a body that is not valid JSON: {exc}"
            ) from exc
        if not isinstance(message, Message):
            raise ProviderError(f"provider '{self.name}' answered something that is no message")
        return chat_result(
            [block.model_dump() for block in message.content],
            model=message.model,
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
            stop_reason=message.stop_reason,
            ttft_ns=time.perf_counter_ns() - started,
        )

    async def _stream(self, body: dict[str, Any], on_delta: DeltaSink) -> ChatResult:
        started = time.perf_counter_ns()
        stream = await self.client.post(
            "/v1/messages",
            body={**body, "stream": True},
            cast_to=Message,
            stream=True,
            stream_cls=AsyncStream[RawMessageStreamEvent],
        )
        answer = _StreamedAnswer(model=body["model"])
        async with stream:
            async for event in self._events(stream):
                if answer.ttft_ns is None and event.type == "content_block_start":
                    answer.ttft_ns = time.perf_counter_ns() - started
                delta = answer.apply(event)
                if delta is not None:
                    await on_delta(delta)
        if not answer.finished:
            # What arrived is a fragment; storing it as the model's answer would be wrong.
            raise ProviderError(f"provider '{self.name}': the stream ended before the answer did")
        return answer.result()

    async def _events(
        self, stream: AsyncStream[RawMessageStreamEvent]
    ) -> AsyncIterator[RawMessageStreamEvent]:
        """The stream's events; a failure to read them (a dropped connection, an event
        that is not JSON) is the provider's failure, whatever the transport raised.

        Only the reading is guarded: what the consumer does with an event runs outside."""
        iterator = stream.__aiter__()
        while True:
            try:
                event = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except anthropic.AnthropicError:
                raise
            except Exception as exc:
                raise ProviderError(
                    f"provider '{self.name}': the stream broke off: {type(exc).__name__}: {exc}"
                ) from exc
            yield event

    def _status_error(self, exc: anthropic.APIStatusError) -> ProviderError:
        kind, detail = _error_parts(exc)
        if exc.status_code == 200:  # an ``error`` event in a stream that had begun fine
            message = f"provider '{self.name}' failed mid-stream ({kind}): {detail}"
        else:
            message = f"provider '{self.name}' answered {exc.status_code} ({kind}): {detail}"
        if is_context_overflow(exc.status_code, detail):
            return ContextOverflow(message)
        return ProviderError(message)


class _StreamedAnswer:
    """Content blocks assembled from stream events, as the non-streamed message has them."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.blocks: dict[int, dict[str, Any]] = {}
        self.tool_index: dict[int, int] = {}
        self.input_tokens = 0
        self.output_tokens = 0
        self.stop_reason: str | None = None
        self.finished = False
        self.ttft_ns: int | None = None

    def apply(self, event: RawMessageStreamEvent) -> ContentDelta | None:
        """Fold one event in; returns what the client should see of it, if anything."""
        if event.type == "message_start":
            self.model = event.message.model or self.model
            self.input_tokens = event.message.usage.input_tokens
            self.output_tokens = event.message.usage.output_tokens
        elif event.type == "content_block_start":
            return self._start(event.index, event.content_block.model_dump())
        elif event.type == "content_block_delta":
            return self._delta(event.index, event.delta.model_dump())
        elif event.type == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self.output_tokens = event.usage.output_tokens
            input_tokens = getattr(event.usage, "input_tokens", None)
            if input_tokens:
                self.input_tokens = input_tokens
        elif event.type == "message_stop":
            self.finished = True
        return None

    def _start(self, index: int, block: dict[str, Any]) -> ContentDelta | None:
        self.blocks[index] = block
        if block["type"] != "tool_use":
            return None
        # The tool's arguments arrive as raw JSON text, kept verbatim.
        block["partial_json"] = ""
        self.tool_index[index] = position = len(self.tool_index)
        return ContentDelta(
            kind="tool_call", index=position, tool_call_id=block["id"], tool_name=block["name"]
        )

    def _delta(self, index: int, delta: dict[str, Any]) -> ContentDelta | None:
        block = self.blocks[index]
        kind = delta["type"]
        if kind == "text_delta":
            block["text"] = block.get("text", "") + delta["text"]
            return ContentDelta(kind="content", text=delta["text"])
        if kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta["thinking"]
            return ContentDelta(kind="reasoning", text=delta["thinking"])
        if kind == "signature_delta":
            block["signature"] = delta["signature"]
        elif kind == "input_json_delta" and delta["partial_json"]:
            block["partial_json"] += delta["partial_json"]
            return ContentDelta(
                kind="tool_call", text=delta["partial_json"], index=self.tool_index[index]
            )
        return None

    def result(self) -> ChatResult:
        return chat_result(
            [self.blocks[i] for i in sorted(self.blocks)],
            model=self.model,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            stop_reason=self.stop_reason,
            ttft_ns=self.ttft_ns,
        )


def _error_parts(exc: anthropic.APIStatusError) -> tuple[str, str]:
    """The error's type and message from Anthropic's ``{"type": "error", "error": {...}}``."""
    body = exc.body
    inner = body.get("error") if isinstance(body, dict) else None
    if isinstance(inner, dict) and inner.get("message"):
        return str(inner.get("type") or "error"), str(inner["message"])
    return "error", exc.message
