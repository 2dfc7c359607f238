"""OpenAI and any OpenAI-compatible endpoint, through the official ``openai`` SDK."""

from __future__ import annotations

import time
from typing import Any

import openai
from openai import AsyncStream
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from engram.errors import ContextOverflow, ProviderError, is_context_overflow
from engram.llm.client import (
    REASONING_BLOCKS,
    ChatRequest,
    ChatResult,
    ContentDelta,
    DeltaSink,
    ToolCall,
)


class OpenAIProvider:
    """Chat, model listing and embeddings against one OpenAI-compatible base URL."""

    kind = "openai"

    def __init__(
        self,
        name: str,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        max_retries: int = 2,
    ) -> None:
        self.name = name
        self.base_url = base_url or "https://api.openai.com/v1"
        # Local servers (vLLM, Ollama) take no key, but the SDK insists on one.
        self.client = openai.AsyncOpenAI(
            api_key=api_key or "no-key",
            base_url=self.base_url,
            timeout=timeout,
            max_retries=max_retries,
        )

    async def list_models(self) -> list[dict[str, Any]]:
        """The model list's entries as JSON objects, every field kept: servers state
        context lengths beyond ``id`` (vLLM's ``max_model_len``, OpenRouter's
        ``context_length``...)."""
        try:
            page = await self.client.models.list()
        except openai.OpenAIError as exc:
            raise ProviderError(f"provider '{self.name}' model list failed: {exc}") from exc
        return [model.to_dict() for model in page.data]

    async def chat(self, request: ChatRequest, on_delta: DeltaSink | None = None) -> ChatResult:
        # The body goes out through the SDK's low-level ``post``: ``chat.completions.create``
        # walks every message against its TypedDict annotations, which costs ~0.15 ms per
        # message — most of a step's overhead once the window holds hundreds of messages.
        # The messages here are already plain JSON-ready dicts.
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": _without_reasoning_blocks(request.messages),
        }
        if request.tools:
            kwargs["tools"] = request.tools
            if request.parallel_tool_calls is not None:
                kwargs["parallel_tool_calls"] = request.parallel_tool_calls
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.max_tokens:
            kwargs["max_tokens"] = request.max_tokens
        if request.logprobs is not None:
            kwargs["logprobs"] = True
            if request.logprobs:
                kwargs["top_logprobs"] = request.logprobs
        if request.reasoning_effort:
            kwargs["reasoning_effort"] = request.reasoning_effort
        if request.response_format:
            kwargs["response_format"] = request.response_format
        try:
            if on_delta is None:
                return await self._complete(kwargs)
            return await self._stream(kwargs, on_delta)
        except openai.APIStatusError as exc:
            detail = _error_text(exc)
            message = f"provider '{self.name}' answered {exc.status_code}: {detail}"
            code = getattr(exc, "code", None) or ""
            if is_context_overflow(exc.status_code, f"{code} {detail}"):
                raise ContextOverflow(message) from exc
            raise ProviderError(message) from exc
        except openai.OpenAIError as exc:
            raise ProviderError(f"provider '{self.name}' failed: {exc}") from exc
        except ValueError as exc:  # a 200 whose body is not JSON (the SDK lets it through)
            raise ProviderError(
                f"provider '{self.name}' answered with a body that is not valid JSON: {exc}"
            ) from exc

    async def _complete(self, kwargs: dict[str, Any]) -> ChatResult:
        started = time.perf_counter_ns()
        response = await self.client.post("/chat/completions", body=kwargs, cast_to=ChatCompletion)
        if not response.choices:
            raise ProviderError(f"provider '{self.name}' returned no choices")
        choice = response.choices[0]
        message = choice.message
        calls = [
            ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "")
            for call in (message.tool_calls or [])
            if call.type == "function"
        ]
        usage = response.usage
        return ChatResult(
            content=message.content,
            tool_calls=calls,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            model=response.model,
            finish_reason=choice.finish_reason,
            reasoning=getattr(message, "reasoning_content", None),
            ttft_ns=time.perf_counter_ns() - started,
            logprobs=choice.logprobs.model_dump() if choice.logprobs is not None else None,
        )

    async def _stream(self, kwargs: dict[str, Any], on_delta: DeltaSink) -> ChatResult:
        started = time.perf_counter_ns()
        ttft: int | None = None
        stream = await self.client.post(
            "/chat/completions",
            body={**kwargs, "stream": True, "stream_options": {"include_usage": True}},
            cast_to=ChatCompletion,
            stream=True,
            stream_cls=AsyncStream[ChatCompletionChunk],
        )
        content: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        prompt_tokens = completion_tokens = 0
        finish_reason: str | None = None
        model = kwargs["model"]
        async for chunk in stream:
            model = chunk.model or model
            if chunk.usage:
                prompt_tokens = chunk.usage.prompt_tokens
                completion_tokens = chunk.usage.completion_tokens
            for choice in chunk.choices:
                if ttft is None:
                    ttft = time.perf_counter_ns() - started
                delta = choice.delta
                finish_reason = choice.finish_reason or finish_reason
                thought = getattr(delta, "reasoning_content", None)
                if thought:
                    reasoning.append(thought)
                    await on_delta(ContentDelta(kind="reasoning", text=thought))
                if delta.content:
                    content.append(delta.content)
                    await on_delta(ContentDelta(kind="content", text=delta.content))
                for part in delta.tool_calls or []:
                    slot = calls.setdefault(part.index, {"id": None, "name": None, "args": []})
                    name = part.function.name if part.function else None
                    args = part.function.arguments if part.function else None
                    slot["id"] = part.id or slot["id"]
                    slot["name"] = name or slot["name"]
                    if args:
                        slot["args"].append(args)
                    await on_delta(
                        ContentDelta(
                            kind="tool_call",
                            text=args or "",
                            index=part.index,
                            tool_call_id=part.id,
                            tool_name=name,
                        )
                    )
        if finish_reason is None:
            # The connection closed before the model said it was done: what arrived is a
            # fragment, and storing it as the model's answer would be wrong.
            raise ProviderError(f"provider '{self.name}': the stream ended before the answer did")
        tool_calls = [
            ToolCall(
                id=slot["id"] or f"call_{index}",
                name=slot["name"] or "",
                arguments="".join(slot["args"]),
            )
            for index, slot in sorted(calls.items())
        ]
        return ChatResult(
            content="".join(content) or None,
            tool_calls=tool_calls,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            model=model,
            finish_reason=finish_reason,
            reasoning="".join(reasoning) or None,
            ttft_ns=ttft,
        )

    async def close(self) -> None:
        await self.client.close()

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        try:
            response = await self.client.embeddings.create(
                model=model, input=texts, encoding_format="float"
            )
        except openai.OpenAIError as exc:
            raise ProviderError(f"provider '{self.name}' embeddings failed: {exc}") from exc
        return [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]


def _without_reasoning_blocks(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages minus another provider's reasoning blocks, which OpenAI would refuse;
    only the (rare) messages that carry them are copied."""
    return [
        {key: value for key, value in m.items() if key != REASONING_BLOCKS}
        if REASONING_BLOCKS in m
        else m
        for m in messages
    ]


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return exc.message
