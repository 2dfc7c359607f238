"""The version of Engram, in a module of its own: code inside the package takes it from
here, never from the ``engram`` package itself, whose lazy attributes load the client."""

from __future__ import annotations

__version__ = "0.1.0"
