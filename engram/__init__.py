"""Engram: a server for stateful LLM agents with tiered memory."""

from __future__ import annotations

__version__ = "0.1.0"
