"""Moved to ``engram.runtime.memory_callbacks`` (the operations call the runtime's database
and embedders, which ``tools/`` must not import). This name is kept only for the step loop's
``runtime.tool_calls``, which imports ``Grant`` from here; once it imports it from
``engram.runtime.memory_callbacks``, this module goes (``tests/unit/test_import_graph.py``
lists it as a known upward import until then)."""

from __future__ import annotations

from engram.runtime.memory_callbacks import Grant

__all__ = ["Grant"]
