"""Where steps spent their time, as the trace and metrics routes answer it.

Letta answers these paths from its OpenTelemetry and provider-trace stores; Engram keeps its
own timings on each step row (runtime/step_clock.py) and answers them in a documented shape
of its own (docs/api.md, "Traces and metrics"): one span per phase of a step, each with its
start (epoch nanoseconds) and its length.
"""

from __future__ import annotations

from typing import Any

from engram.runtime.step_clock import PHASES
from engram.store import tables as t
from engram.store.tables import as_utc


def spans(row: t.Step) -> list[dict[str, Any]]:
    """The step as a span, then one span per phase it recorded, in order. A step written
    before steps kept timings has only its own span, placed by its end and duration."""
    timings = row.timings or {}
    step_ns = timings.get("step_ns")
    if step_ns is None:
        step_ns = round((row.duration_ms or 0.0) * 1e6)
    started = timings.get("started_at_ns")
    if started is None:
        started = int(as_utc(row.created_at).timestamp() * 1e9) - step_ns
    out = [_span(row, "step", started, step_ns)]
    at = started
    for phase in PHASES:
        length = timings.get(f"{phase}_ns")
        if length is None:
            continue
        out.append(_span(row, phase, at, length))
        at += length
    for entry in timings.get("reranks") or []:
        # Within the tools phase: each search's reranking, placed where it ran.
        span = _span(row, "rerank", started + entry["offset_ns"], entry["duration_ns"])
        out.append(span | {"parent": "tools"} | _rerank_detail(entry))
    return out


def _rerank_detail(entry: dict[str, Any]) -> dict[str, Any]:
    names = ("reranker", "status", "candidates", "error")
    return {name: entry[name] for name in names if name in entry}


def _span(row: t.Step, name: str, start_ns: int, duration_ns: int) -> dict[str, Any]:
    return {
        "name": name,
        "step_id": row.id,
        "run_id": row.run_id,
        "agent_id": row.agent_id,
        "start_ns": start_ns,
        "duration_ns": duration_ns,
        "duration_ms": duration_ns / 1e6,
    }


def step_trace(row: t.Step) -> dict[str, Any]:
    """A step's trace in the fields of Letta's ``ProviderTrace``. Engram does not keep the
    provider's request and response bodies: ``request_json`` names the model asked and
    ``response_json`` holds the usage it answered; ``spans`` are Engram's timings."""
    return {
        "id": row.id,
        "step_id": row.id,
        "run_id": row.run_id,
        "agent_id": row.agent_id,
        "agent_tags": None,
        "call_type": "agent_step",
        "source": "engram",
        "organization_id": None,
        "user_id": None,
        "compaction_settings": None,
        "llm_config": None,
        "request_json": {"model": row.model_handle or row.model},
        "response_json": {
            "model": row.model,
            "stop_reason": row.stop_reason,
            "usage": {
                "prompt_tokens": row.prompt_tokens,
                "completion_tokens": row.completion_tokens,
                "total_tokens": row.prompt_tokens + row.completion_tokens,
            },
        },
        "created_at": as_utc(row.created_at).isoformat(),
        "spans": spans(row),
    }


def step_metrics(row: t.Step) -> dict[str, Any]:
    """Letta's ``StepMetrics`` from the step's timings (None where the step kept none),
    with Engram's other phases and the time to the first token beside them."""
    timings = row.timings or {}
    started = timings.get("started_at_ns")
    context = timings.get("context_ns")
    llm_start = started + context if started is not None and context is not None else None
    step_ns = timings.get("step_ns")
    if step_ns is None and row.duration_ms is not None:
        step_ns = round(row.duration_ms * 1e6)
    return {
        "id": row.id,
        "organization_id": None,
        "provider_id": None,
        "run_id": row.run_id,
        "agent_id": row.agent_id,
        "step_start_ns": started,
        "llm_request_start_ns": llm_start,
        "llm_request_ns": timings.get("llm_ns"),
        "tool_execution_ns": timings.get("tools_ns"),
        "step_ns": step_ns,
        "base_template_id": None,
        "template_id": None,
        "project_id": None,
        "context_ns": context,
        "database_ns": timings.get("database_ns"),
        "time_to_first_token_ns": timings.get("ttft_ns"),
        "rerank_ns": timings.get("rerank_ns"),
    }
