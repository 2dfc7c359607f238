"""Step timings: the clock's phases add up to the step, and a step written before steps
kept timings still answers its metrics and trace from its total duration."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from engram.api.step_traces import spans, step_metrics, step_trace
from engram.runtime.step_clock import StepClock
from engram.store import tables as t


def test_the_clock_splits_a_step_into_phases_that_add_up() -> None:
    clock = StepClock()
    for phase in ("context", "llm", "tools", "database"):
        time.sleep(0.002)
        clock.mark(phase)

    timings = clock.timings(ttft_ns=1_000)

    phases = [timings[f"{p}_ns"] for p in ("context", "llm", "tools", "database")]
    assert all(length >= 2_000_000 for length in phases)
    assert sum(phases) == timings["step_ns"]
    assert timings["ttft_ns"] == 1_000 and timings["started_at_ns"] > 0


def test_a_phase_never_marked_falls_into_the_next_one() -> None:
    clock = StepClock()
    time.sleep(0.002)
    clock.mark("llm")

    timings = clock.timings(ttft_ns=None)

    assert "context_ns" not in timings and "ttft_ns" not in timings
    assert timings["llm_ns"] == timings["step_ns"] >= 2_000_000


def test_an_older_step_without_timings_answers_from_its_duration() -> None:
    ended = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    row = t.Step(
        id="step-1",
        run_id="run-1",
        agent_id="agent-1",
        model="m",
        prompt_tokens=3,
        completion_tokens=4,
        duration_ms=12.5,
        created_at=ended,
        timings=None,
    )

    (only,) = spans(row)
    metrics = step_metrics(row)

    assert (only["name"], only["duration_ns"]) == ("step", 12_500_000)
    assert only["start_ns"] + only["duration_ns"] == int(ended.timestamp() * 1e9)
    assert metrics["step_ns"] == 12_500_000 and metrics["llm_request_ns"] is None
    assert step_trace(row)["response_json"]["usage"]["total_tokens"] == 7
