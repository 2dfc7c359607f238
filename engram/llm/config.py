"""A typed view of an agent's ``llm_config``: the model call's settings, read one way.

The column stays Letta's JSON object (it is echoed on the wire as it was stored, unknown
keys included); this view names the fields the server itself acts on, so the step reads
``config.max_tokens`` instead of fishing in a dict, and a missing or ill-typed value has one
reading everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_CONTEXT_WINDOW = 8192
"""The window assumed for a config that does not state one."""


@dataclass(frozen=True)
class LLMConfig:
    """The fields of an ``llm_config`` the server uses; see ``from_json``."""

    model: str
    handle: str | None = None
    provider_name: str | None = None
    context_window: int = DEFAULT_CONTEXT_WINDOW
    temperature: float | None = None
    max_tokens: int | None = None
    enable_reasoner: bool = False
    max_reasoning_tokens: int | None = None
    tool_call_format: str | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: str | None = None
    response_format: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> LLMConfig:
        """The view of a stored ``llm_config``; ``model`` is required (every stored config
        has one), the rest falls back to what an absent key has always meant."""
        return cls(
            model=str(value["model"]),
            handle=_text(value.get("handle")),
            provider_name=_text(value.get("provider_name")),
            context_window=int(value.get("context_window") or DEFAULT_CONTEXT_WINDOW),
            temperature=value.get("temperature"),
            max_tokens=value.get("max_tokens"),
            enable_reasoner=bool(value.get("enable_reasoner")),
            max_reasoning_tokens=value.get("max_reasoning_tokens"),
            tool_call_format=_text(value.get("tool_call_format")),
            parallel_tool_calls=value.get("parallel_tool_calls"),
            reasoning_effort=_text(value.get("reasoning_effort")),
            response_format=value.get("response_format") or None,
        )

    @property
    def reasoning_budget(self) -> int | None:
        """The thinking budget the agent asked for (Letta's ``enable_reasoner`` with
        ``max_reasoning_tokens``); None when either is off. Providers without budgets
        ignore it."""
        if not self.enable_reasoner or not self.max_reasoning_tokens:
            return None
        return int(self.max_reasoning_tokens)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
