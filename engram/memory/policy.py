"""Per-agent memory policy: when the window folds, and how recall assist behaves.

Agents store only what their owner set; everything else comes from the server's settings
at the moment of use, so changing a server default reaches every agent that kept it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engram.config import Settings
from engram.errors import InvalidInput


class _Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CompactionSettingsBody(_Settings):
    """Letta's compaction settings, plus Engram's own folding knobs (the last three)."""

    model: str | None = None
    prompt: str | None = None
    prompt_acknowledgement: bool = False
    clip_chars: int | None = Field(default=50_000, gt=0, le=10_000_000)
    mode: Literal["all", "sliding_window", "self_compact_all", "self_compact_sliding_window"] = (
        "sliding_window"
    )
    sliding_window_percentage: float | None = Field(default=None, gt=0, le=1)
    trigger_fraction: float | None = Field(default=None, gt=0, le=1)
    target_fraction: float | None = Field(default=None, gt=0, lt=1)
    keep_last_user_turns: int | None = Field(default=None, ge=0, le=100)


class RecallAssistBody(_Settings):
    """Engram's recall assist: memory searched with each user message, hits in the prompt."""

    enabled: bool = True
    token_budget: int | None = Field(default=None, ge=16, le=100_000)
    max_hits: int | None = Field(default=None, ge=1, le=50)
    sources: list[Literal["archival", "recall"]] | None = Field(default=None, min_length=1)


DEFAULT_KEEP_LAST_USER_TURNS = 2
DEFAULT_CLIP_CHARS = 50_000
DEFAULT_ASSIST_TOKEN_BUDGET = 512
DEFAULT_ASSIST_MAX_HITS = 6


@dataclass(frozen=True)
class Compaction:
    """The resolved folding policy of one agent."""

    trigger: float
    """Fold when the prompt would pass this fraction of the window."""
    target: float
    """Fold down to this fraction of the window."""
    keep_last_user_turns: int
    """User turns (a user message and all that follows it) that are never folded."""
    prompt: str | None = None
    """Instructions replacing the summarizer's default ones."""
    model: str | None = None
    """Handle of the model that writes the summary; the agent's own when unset."""
    clip_chars: int = DEFAULT_CLIP_CHARS
    """The most characters of one evicted message the summarizer reads."""


def compaction(agent_settings: dict[str, Any] | None, server: Settings) -> Compaction:
    stored = agent_settings or {}
    return Compaction(
        trigger=_or(stored.get("trigger_fraction"), server.summarize_trigger),
        target=_or(stored.get("target_fraction"), server.summarize_target),
        keep_last_user_turns=int(
            _or(stored.get("keep_last_user_turns"), DEFAULT_KEEP_LAST_USER_TURNS)
        ),
        prompt=stored.get("prompt") or None,
        model=stored.get("model") or None,
        clip_chars=int(_or(stored.get("clip_chars"), DEFAULT_CLIP_CHARS)),
    )


def check_compaction(agent_settings: dict[str, Any], server: Settings) -> None:
    """Refuse a target at or above the trigger: the window would fold on every step."""
    resolved = compaction(agent_settings, server)
    if resolved.target >= resolved.trigger:
        raise InvalidInput(
            "compaction_settings.target_fraction",
            f"must be below the trigger fraction ({resolved.trigger}), got {resolved.target}",
        )


@dataclass(frozen=True)
class RecallAssist:
    """The resolved recall-assist policy of one agent."""

    enabled: bool
    token_budget: int
    max_hits: int
    include_archival: bool
    include_recall: bool


def recall_assist(agent_settings: dict[str, Any] | None) -> RecallAssist:
    stored = agent_settings or {}
    sources = stored.get("sources") or ["archival", "recall"]
    return RecallAssist(
        enabled=bool(stored.get("enabled", False)),
        token_budget=int(_or(stored.get("token_budget"), DEFAULT_ASSIST_TOKEN_BUDGET)),
        max_hits=int(_or(stored.get("max_hits"), DEFAULT_ASSIST_MAX_HITS)),
        include_archival="archival" in sources,
        include_recall="recall" in sources,
    )


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value
