"""The one interface the step engine uses to talk to a model, whatever the provider."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text exactly as the model produced it


@dataclass
class ChatResult:
    content: str | None
    tool_calls: list[ToolCall]
    prompt_tokens: int
    completion_tokens: int
    model: str
    finish_reason: str | None = None
    reasoning: str | None = None
    ttft_ns: int | None = None
    # The provider's own reasoning blocks, verbatim (Anthropic's ``thinking`` with its
    # signature, ``redacted_thinking``): some APIs need them sent back unchanged.
    reasoning_blocks: list[dict[str, Any]] | None = None
    # The output tokens' log probabilities as the provider gave them (OpenAI's choice
    # ``logprobs``), when the request asked for them and the provider gives them.
    logprobs: dict[str, Any] | None = None


@dataclass(frozen=True)
class ContentDelta:
    """A piece of streamed output: text, reasoning, or part of one tool call."""

    kind: str  # "content" | "reasoning" | "tool_call"
    text: str = ""
    index: int = 0
    tool_call_id: str | None = None
    tool_name: str | None = None


DeltaSink = Callable[[ContentDelta], Awaitable[None]]

REASONING_BLOCKS = "reasoning_blocks"
"""Key of an assistant chat message holding ``ChatResult.reasoning_blocks`` from an earlier
step; providers that cannot take them back must drop it before sending."""


@dataclass
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    temperature: float | None = None
    max_tokens: int | None = None
    parallel_tool_calls: bool | None = None
    reasoning_budget: int | None = None
    """Tokens the model may think with before answering, for providers that take a budget
    (Anthropic's extended thinking); None leaves thinking off."""
    logprobs: int | None = None
    """Ask for the output tokens' log probabilities with this many most likely alternatives
    at each position (0: none); None does not ask. Only OpenAI-compatible providers."""
    reasoning_effort: str | None = None
    """OpenAI's ``reasoning_effort`` for reasoning models; None sends none."""
    response_format: dict[str, Any] | None = None
    """OpenAI's ``response_format`` (``json_object``, ``json_schema``); None is plain text."""


class LLMClient(Protocol):
    """A chat model endpoint; implementations live one per file in ``llm/``."""

    async def chat(self, request: ChatRequest, on_delta: DeltaSink | None = None) -> ChatResult:
        """One completion; streams deltas to ``on_delta`` when given. Raises ProviderError."""
        ...
