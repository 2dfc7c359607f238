"""Bounds on what one request may carry, checked where its JSON becomes Python values.

Why here: the API's request models and the agent-file document both need the same checks
(text that is valid Unicode, free-form JSON that is neither deep nor huge, text fields
within their configured size), and neither may import the other. The configured limits
travel in a context variable that the API's body-limit middleware sets per request, so
model validators can read the server's settings without a global.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from engram.config import Settings

# Deeper free-form JSON is refused: no real metadata needs it, and encoders (pydantic's
# among them) refuse to write values nested a few hundred levels deep.
MAX_JSON_DEPTH = 32

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class InputLimits:
    """The per-field limits of docs/api.md, with the setting that changes each."""

    message_chars: int
    passage_chars: int
    block_chars: int
    json_field_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> InputLimits:
        return cls(
            message_chars=settings.max_message_chars,
            passage_chars=settings.max_passage_chars,
            block_chars=settings.max_block_chars,
            json_field_bytes=settings.max_json_field_bytes,
        )


SETTING = {
    "message_chars": "ENGRAM_MAX_MESSAGE_CHARS",
    "passage_chars": "ENGRAM_MAX_PASSAGE_CHARS",
    "block_chars": "ENGRAM_MAX_BLOCK_CHARS",
    "json_field_bytes": "ENGRAM_MAX_JSON_FIELD_BYTES",
}

_DEFAULTS = InputLimits.from_settings(Settings.model_construct())
_ACTIVE: ContextVar[InputLimits] = ContextVar("engram_input_limits", default=_DEFAULTS)


def active() -> InputLimits:
    """The limits of the request being handled (the defaults outside a request)."""
    return _ACTIVE.get()


@contextmanager
def limits_in_force(limits: InputLimits) -> Iterator[None]:
    token = _ACTIVE.set(limits)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def refuse(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as is (no 'Value error, ' prefix)."""
    return PydanticCustomError("input_limit", message.replace("{", "(").replace("}", ")"))


def check_length(length: int, kind: str) -> None:
    """``kind`` is one of InputLimits' text fields; the error names the limit's setting."""
    limit = getattr(active(), kind)
    if length > limit:
        raise refuse(
            f"{length} characters is over the limit of {limit} characters "
            f"(raise it with {SETTING[kind]})"
        )


def check_text_length(text: str, kind: str) -> str:
    check_length(len(text), kind)
    return text


_LONE_SURROGATE = (
    "contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text; "
    "send valid Unicode (a pair such as \\ud83d\\ude00 is fine)"
)


def check_value(value: Any) -> Any:
    """Refuse lone surrogates in any string, and free-form JSON (dicts and lists) that is
    nested deeper than MAX_JSON_DEPTH or larger than the JSON field limit.

    Iterative, so a value nested thousands deep cannot exhaust the stack. Request models
    are checked field by field on their own, so their instances are not walked again;
    other models (settings bodies) are walked through their fields.
    """
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise refuse(_LONE_SURROGATE)
        return value
    if not isinstance(value, dict | list | tuple | BaseModel):
        return value
    limit = active().json_field_bytes
    size = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise refuse(_LONE_SURROGATE)
            size += len(node) + 2
        elif isinstance(node, dict | list | tuple | BaseModel):
            if depth >= MAX_JSON_DEPTH:
                raise refuse(f"nested deeper than {MAX_JSON_DEPTH} levels")
            size += 2
            if isinstance(node, dict):
                for key, item in node.items():
                    stack.append((key, depth))
                    stack.append((item, depth + 1))
            elif isinstance(node, BaseModel):
                if getattr(node, "checked_on_its_own", False):
                    continue
                stack.extend((item, depth + 1) for item in vars(node).values())
            else:
                stack.extend((item, depth + 1) for item in node)
        else:
            size += 8
        if size > limit:
            raise refuse(
                f"larger than the limit of {limit} bytes as JSON "
                f"(raise it with {SETTING['json_field_bytes']})"
            )
    return value
