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


class CapabilityMissing(EngramError):
    """Something the request needs is not installed or configured on this server (the
    local embedding model's weights, say); the message names the fix. Retrying does not
    help until an operator acts."""


class SandboxUnavailable(CapabilityMissing):
    """No sandbox the settings accept works on this machine, so custom tools cannot run;
    the message names the fix (install bubblewrap, or opt in to running them unconfined)."""


class ContextOverflow(ProviderError):
    """The provider refused the prompt as longer than the model's window.

    Engram counts tokens before each call, but a count is an estimate for some models and
    a configured window can be wrong; the step loop answers with one forced fold."""


_OVERFLOW_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "prompt is too long",
    "too many tokens",
    "input is too long",
    "reduce the length",
)


def is_context_overflow(status: int | None, text: str) -> bool:
    """Whether a provider's 400/413 error says the prompt does not fit the model."""
    if status not in (400, 413, 422, None):
        return False
    lowered = text.lower()
    return any(marker in lowered for marker in _OVERFLOW_MARKERS)


class ModelNotFound(InvalidInput):
    """A model handle names no model any configured provider offers."""


class ToolNotAttached(NotFound):
    """A path names a tool by name on an agent that has no tool of that name."""

    def __init__(self, agent_id: str, tool_name: str, attached: list[str]) -> None:
        EngramError.__init__(
            self,
            f"tool '{tool_name}' is not attached to agent '{agent_id}' (attached: "
            f"{', '.join(sorted(attached)) or 'none'}): attach it first with "
            "PATCH /v1/agents/{agent_id}/tools/attach/{tool_id}",
        )
        self.kind = "tool"
        self.ident = tool_name


class UnsupportedMediaType(InvalidInput):
    """An upload of a file type no parser reads; the message lists the types that are."""


class PayloadTooLarge(InvalidInput):
    """An upload larger than the server accepts; the message names the limit's setting."""
