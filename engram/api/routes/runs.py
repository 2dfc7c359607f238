"""Runs and steps: what each request did, with usage and timings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from engram.api import serialize
from engram.api.deps import Limit, Runtime, json_reply
from engram.errors import Conflict, InvalidInput
from engram.runtime.runs import ACTIVE_RUN_STATUSES
from engram.runtime.views import listing
from engram.store import runs
from engram.store import tables as t
from engram.store.tables import as_utc

router = APIRouter(tags=["runs"])

Order = Literal["asc", "desc"]
RunStatus = Literal["created", "running", "completed", "failed", "cancelled"]
StopReason = Literal[
    "end_turn",
    "error",
    "llm_api_error",
    "invalid_llm_response",
    "invalid_tool_call",
    "max_steps",
    "max_tokens_exceeded",
    "no_tool_call",
    "tool_rule",
    "cancelled",
    "insufficient_credits",
    "requires_approval",
    "context_window_overflow_in_system_prompt",
]
STOP_REASONS = frozenset(get_args(StopReason))
IdList = Annotated[list[str] | None, Query()]


# --------------------------------------------------------------------------- runs


@router.get("/v1/runs/")
async def list_runs(
    rt: Runtime,
    agent_id: str | None = None,
    agent_ids: IdList = None,
    statuses: Annotated[list[RunStatus] | None, Query()] = None,
    background: bool | None = None,
    stop_reason: StopReason | None = None,
    conversation_id: str | None = None,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 100,
    order: Order | None = None,
    order_by: Literal["created_at"] = "created_at",
    active: bool = False,
    ascending: bool | None = None,
) -> Response:
    """Newest first unless asked otherwise (``ascending`` is Letta's older spelling)."""
    if conversation_id is not None:
        return json_reply([])  # Engram has no conversations, so no run belongs to one
    # agent_ids is Letta's older spelling; agent_id wins when both come.
    wanted_agents = [agent_id] if agent_id is not None else agent_ids
    wanted_statuses: list[str] | None = list(statuses) if statuses else None
    if active:
        active_ones = list(ACTIVE_RUN_STATUSES)
        wanted_statuses = [s for s in (wanted_statuses or active_ones) if s in active_ones]
    descending = order == "desc" if order is not None else not ascending

    def _read(session: Session) -> Any:
        rows = runs.list_runs(
            session,
            agent_ids=wanted_agents,
            statuses=wanted_statuses,
            background=background,
            stop_reason=stop_reason,
            before=before,
            after=after,
            limit=limit,
            descending=descending,
        )
        return [serialize.run(row) for row in rows]

    return json_reply(await rt.db.read(_read))


@router.get("/v1/runs/{run_id}")
async def retrieve_run(run_id: str, rt: Runtime) -> dict[str, Any]:
    def _read(session: Session) -> Any:
        return serialize.run(runs.get(session, run_id))

    return await rt.db.read(_read)


@router.delete("/v1/runs/{run_id}")
async def delete_run(run_id: str, rt: Runtime) -> dict[str, Any]:
    """Delete a finished run and its steps (its messages stay in the agent's history);
    a run still going must be cancelled first."""

    def _write(session: Session) -> Any:
        run = runs.get(session, run_id)
        if run.status in ACTIVE_RUN_STATUSES:
            raise Conflict(
                f"run '{run_id}' is {run.status}: cancel it first "
                f"(POST /v1/agents/{run.agent_id}/messages/cancel), then delete it"
            )
        shown = serialize.run(run)
        runs.delete(session, run)
        return shown

    return await rt.db.write(_write)


@router.get("/v1/runs/{run_id}/messages")
async def list_run_messages(
    run_id: str,
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 100,
    order: Order = "asc",
    order_by: Literal["created_at"] = "created_at",
) -> Response:
    def _read(session: Session) -> Any:
        runs.get(session, run_id)
        return runs.run_messages(
            session, run_id, before=before, after=after, limit=limit, descending=order == "desc"
        )

    rows = await rt.db.read(_read)
    return json_reply(listing(rows, descending=order == "desc"))


@router.get("/v1/runs/{run_id}/steps")
async def list_run_steps(
    run_id: str,
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 100,
    order: Order = "asc",
    order_by: Literal["created_at"] = "created_at",
) -> Response:
    def _read(session: Session) -> Any:
        runs.get(session, run_id)
        rows = runs.list_steps(
            session,
            run_id=run_id,
            before=before,
            after=after,
            limit=limit,
            descending=order == "desc",
        )
        return [step(row) for row in rows]

    return json_reply(await rt.db.read(_read))


@router.get("/v1/runs/{run_id}/usage")
async def retrieve_run_usage(run_id: str, rt: Runtime) -> dict[str, Any]:
    def _read(session: Session) -> Any:
        return usage(runs.get(session, run_id))

    return await rt.db.read(_read)


# --------------------------------------------------------------------------- steps


@router.get("/v1/steps/")
async def list_steps(
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 100,
    order: Order = "desc",
    order_by: Literal["created_at"] = "created_at",
    start_date: str | None = None,
    end_date: str | None = None,
    model: str | None = None,
    agent_id: str | None = None,
    trace_ids: IdList = None,
    feedback: Literal["positive", "negative"] | None = None,
    has_feedback: bool | None = None,
    tags: IdList = None,
    project_id: str | None = None,
) -> Response:
    """Filters on what Engram records; asking for feedback, tags or traces, which it does
    not record, matches no step."""
    start = _moment("start_date", start_date)
    end = _moment("end_date", end_date)
    if feedback is not None or has_feedback or tags or trace_ids:
        return json_reply([])

    def _read(session: Session) -> Any:
        rows = runs.list_steps(
            session,
            agent_id=agent_id,
            model=model,
            start=start,
            end=end,
            before=before,
            after=after,
            limit=limit,
            descending=order == "desc",
        )
        return [step(row) for row in rows]

    return json_reply(await rt.db.read(_read))


@router.get("/v1/steps/{step_id}")
async def retrieve_step(step_id: str, rt: Runtime) -> dict[str, Any]:
    def _read(session: Session) -> Any:
        return step(runs.get_step(session, step_id))

    return await rt.db.read(_read)


@router.get("/v1/steps/{step_id}/messages")
async def list_step_messages(
    step_id: str,
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 100,
    order: Order = "asc",
    order_by: Literal["created_at"] = "created_at",
) -> Response:
    def _read(session: Session) -> Any:
        row = runs.get_step(session, step_id)
        return runs.run_messages(
            session,
            row.run_id,
            step_id=step_id,
            before=before,
            after=after,
            limit=limit,
            descending=order == "desc",
        )

    rows = await rt.db.read(_read)
    return json_reply(listing(rows, descending=order == "desc"))


# --------------------------------------------------------------------------- shapes


def step(row: t.Step) -> dict[str, Any]:
    """A step as Letta's ``Step``, with Engram's own timing and token count beside it."""
    return {
        "id": row.id,
        "origin": None,
        "organization_id": None,
        "provider_id": None,
        "run_id": row.run_id,
        "agent_id": row.agent_id,
        "provider_name": row.provider_name,
        "provider_category": "base",
        "model": row.model,
        "model_handle": row.model_handle,
        "model_endpoint": None,
        "context_window_limit": row.context_window_limit,
        "completion_tokens": row.completion_tokens,
        "prompt_tokens": row.prompt_tokens,
        "total_tokens": row.prompt_tokens + row.completion_tokens,
        "cached_input_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
        "completion_tokens_details": None,
        "prompt_tokens_details": None,
        # Rows written before steps carried only real stop reasons said "tool_calls".
        "stop_reason": row.stop_reason if row.stop_reason in STOP_REASONS else None,
        "tags": [],
        "tid": None,
        "trace_id": None,
        "request_id": None,
        "messages": [],
        "feedback": None,
        "project_id": None,
        "error_type": None,
        "error_data": None,
        "status": row.status,
        "created_at": as_utc(row.created_at).isoformat(),
        "duration_ms": row.duration_ms,
        "counted_prompt_tokens": row.counted_prompt_tokens,
    }


def usage(run: t.Run) -> dict[str, Any]:
    """A run's token totals as Letta's ``UsageStatistics``."""
    return {
        "completion_tokens": run.completion_tokens,
        "prompt_tokens": run.prompt_tokens,
        "total_tokens": run.prompt_tokens + run.completion_tokens,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def _moment(field: str, value: str | None) -> datetime | None:
    """An ISO 8601 date or date-time; naive ones are taken as UTC."""
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError as exc:
        raise InvalidInput(field, f"'{value}' is not an ISO 8601 date or date-time") from exc
