"""Engram: a server for stateful LLM agents with tiered memory.

``engram.Engram`` is the runtime as a library (the HTTP API is a skin over it); it is
imported on first use so that ``import engram`` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from engram.config import Settings
    from engram.runtime.engine import Engram

__all__ = ["Engram", "Settings", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Engram":
        from engram.runtime.engine import Engram

        return Engram
    if name == "Settings":
        from engram.config import Settings

        return Settings
    raise AttributeError(f"module 'engram' has no attribute {name!r}")
