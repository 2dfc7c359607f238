"""Identifiers shaped like Letta's (``agent-<uuid4>``) so clients that parse them keep working."""

from __future__ import annotations

import uuid
from typing import Literal

Prefix = Literal[
    "agent",
    "block",
    "message",
    "passage",
    "tool",
    "run",
    "step",
    "archive",
    "ping",
    # Letta names folders by their old name, sources.
    "source",
    "file",
    "file_agent",
    "identity",
    "group",
    "conv",
]


def new_id(prefix: Prefix) -> str:
    return f"{prefix}-{uuid.uuid4()}"
