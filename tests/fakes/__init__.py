"""Test doubles for engram's external dependencies (currently: a scripted fake LLM
speaking OpenAI's and Anthropic's wire formats).

Exports are resolved lazily so ``python -m tests.fakes.fake_llm`` does not
import the module twice (runpy warns when a package pre-imports its __main__).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .anthropic_wire import thinking_signature
    from .fake_llm import DEFAULT_MODELS, FakeLLM, FakeLLMHandlerError, Rule
    from .openai_wire import embed_text
    from .replies import (
        BrokenJSONReply,
        ErrorReply,
        FakeRequest,
        Reply,
        TextReply,
        ToolCall,
        ToolCallsReply,
        TruncatedReply,
        echo_handler,
        ok_handler,
        reply,
        tool_then_answer_handler,
    )

_EXPORTS: dict[str, str] = {
    "DEFAULT_MODELS": ".fake_llm",
    "FakeLLM": ".fake_llm",
    "FakeLLMHandlerError": ".fake_llm",
    "Rule": ".fake_llm",
    "embed_text": ".openai_wire",
    "thinking_signature": ".anthropic_wire",
    "BrokenJSONReply": ".replies",
    "ErrorReply": ".replies",
    "FakeRequest": ".replies",
    "Reply": ".replies",
    "TextReply": ".replies",
    "ToolCall": ".replies",
    "ToolCallsReply": ".replies",
    "TruncatedReply": ".replies",
    "echo_handler": ".replies",
    "ok_handler": ".replies",
    "reply": ".replies",
    "tool_then_answer_handler": ".replies",
}

__all__ = [
    "DEFAULT_MODELS",
    "BrokenJSONReply",
    "ErrorReply",
    "FakeLLM",
    "FakeLLMHandlerError",
    "FakeRequest",
    "Reply",
    "Rule",
    "TextReply",
    "ToolCall",
    "ToolCallsReply",
    "TruncatedReply",
    "echo_handler",
    "embed_text",
    "ok_handler",
    "reply",
    "thinking_signature",
    "tool_then_answer_handler",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module, __name__), name)
