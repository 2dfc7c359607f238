"""Every error the runtime raises on purpose; ``api/errors.py`` maps each to one HTTP status."""

from __future__ import annotations


class EngramError(Exception):
    """Base of every deliberate error; the message is written for the user."""


class NotFound(EngramError):
    """An id or label names nothing that exists."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} '{ident}' not found")
        self.kind = kind
        self.ident = ident


class InvalidInput(EngramError):
    """A request is well-formed JSON but asks for something impossible; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class BlockTooLong(InvalidInput):
    """A block value would exceed the block's character limit."""

    def __init__(self, label: str, length: int, limit: int) -> None:
        super().__init__(
            "value",
            f"block '{label}' would be {length:,} chars, over its limit of {limit:,}: "
            "shorten the value or raise the limit",
        )
        self.label = label
        self.length = length
        self.limit = limit


class ReadOnlyBlock(InvalidInput):
    """An agent tried to edit a block marked read-only."""

    def __init__(self, label: str) -> None:
        super().__init__("label", f"block '{label}' is read-only")


class Conflict(EngramError):
    """The request collides with existing state (a duplicate name, a busy agent)."""


class ProviderError(EngramError):
    """The LLM or embedding provider failed or is not configured."""


class ModelNotFound(InvalidInput):
    """A model handle names no model any configured provider offers."""
