"""Engram: a server for stateful LLM agents with tiered memory.

``engram.Engram`` (and ``engram.AsyncEngram``) is Engram as a library: the operations the
REST API serves, in-process. It is imported on first use so that ``import engram`` stays
cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engram.version import __version__

if TYPE_CHECKING:
    from engram.client import AsyncEngram, Engram
    from engram.config import Settings

__all__ = ["AsyncEngram", "Engram", "Settings", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Engram", "AsyncEngram"):
        import engram.client

        return getattr(engram.client, name)
    if name == "Settings":
        from engram.config import Settings

        return Settings
    raise AttributeError(f"module 'engram' has no attribute {name!r}")
