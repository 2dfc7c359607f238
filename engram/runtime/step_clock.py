"""Where a step's time goes: building the prompt, the model call, the tools, the write.

A step marks the end of each phase as it passes it (one ``perf_counter_ns`` call each), and
the step's row stores the phases' lengths as JSON in the same insert that records the step,
so timing a step costs no extra query. ``GET /v1/steps/{id}/trace`` and ``/metrics`` and
``GET /v1/runs/{id}/trace`` read them back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engram.memory.rerank import RerankNote

# The phases of a step, in order; each ends when the next begins.
PHASES = ("context", "llm", "tools", "database")


@dataclass
class StepClock:
    """Marks taken during one step. ``started_at_ns`` is wall-clock time (epoch), for
    placing the step in time; the phase lengths come from the monotonic counter."""

    started_ns: int = field(default_factory=time.perf_counter_ns)
    started_at_ns: int = field(default_factory=time.time_ns)
    marks: dict[str, int] = field(default_factory=dict)
    reranks: list[dict[str, Any]] = field(default_factory=list)
    """The search rerankings of the tools phase, each placed by its offset from the start."""

    def mark(self, phase: str) -> None:
        """The end of ``phase`` is now."""
        self.marks[phase] = time.perf_counter_ns()

    def add_reranks(self, notes: list[RerankNote]) -> None:
        """Record rerankings done during the step (part of its tools phase)."""
        for note in notes:
            entry = {
                "offset_ns": note.started_ns - self.started_ns,
                "duration_ns": note.duration_ns,
            }
            self.reranks.append(entry | note.as_json())

    def elapsed_seconds(self) -> float:
        return (time.perf_counter_ns() - self.started_ns) / 1e9

    def timings(self, ttft_ns: int | None) -> dict[str, Any]:
        """The phases' lengths in nanoseconds, as the step row keeps them: a phase whose
        end was not marked is left out (its time falls in the next phase marked)."""
        out: dict[str, Any] = {"started_at_ns": self.started_at_ns}
        previous = self.started_ns
        for phase in PHASES:
            end = self.marks.get(phase)
            if end is None:
                continue
            out[f"{phase}_ns"] = end - previous
            previous = end
        out["step_ns"] = previous - self.started_ns
        if ttft_ns is not None:
            out["ttft_ns"] = ttft_ns
        if self.reranks:
            out["rerank_ns"] = sum(entry["duration_ns"] for entry in self.reranks)
            out["reranks"] = self.reranks
        return out
