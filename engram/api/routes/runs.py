"""Runs and steps: what each request did, with usage and timings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from engram.api import serialize, step_traces
from engram.api.deps import Limit, Runtime, json_reply
from engram.api.schemas import Body
from engram.ops import runs, steps
from engram.ops.paging import Page
from engram.ops.runs import RunStatus, StopReason
from engram.runtime.views import listing

router = APIRouter(tags=["runs"])

Order = Literal["asc", "desc"]
IdList = Annotated[list[str] | None, Query()]


class FeedbackBody(Body):
    """Letta's ``ModifyFeedbackRequest``."""

    feedback: Literal["positive", "negative"] | None = None
    tags: list[str] | None = None


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
    query = runs.RunQuery(
        agent_id=agent_id,
        agent_ids=agent_ids,
        statuses=list(statuses) if statuses else None,
        background=background,
        stop_reason=stop_reason,
        conversation_id=conversation_id,
        active=active,
    )
    page = Page(before, after, limit, runs.newest_first(order, ascending))
    rows = await runs.list_runs(rt, query, page)
    return json_reply([serialize.run(row) for row in rows])


@router.get("/v1/runs/{run_id}")
async def retrieve_run(run_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.run(await runs.retrieve_run(rt, run_id))


@router.delete("/v1/runs/{run_id}")
async def delete_run(run_id: str, rt: Runtime) -> dict[str, Any]:
    """Delete a finished run and its steps (its messages stay in the agent's history);
    a run still going must be cancelled first."""
    return serialize.run(await runs.delete_run(rt, run_id))


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
    page = Page(before, after, limit, order == "desc")
    rows = await runs.list_run_messages(rt, run_id, page)
    return json_reply(listing(rows, descending=page.descending))


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
    rows = await runs.list_run_steps(rt, run_id, Page(before, after, limit, order == "desc"))
    return json_reply([serialize.step(row) for row in rows])


@router.get("/v1/runs/{run_id}/trace")
async def retrieve_run_trace(
    run_id: str, rt: Runtime, limit: Annotated[int, Query(ge=1, le=5000)] = 1000
) -> Response:
    """The timings of the run's steps as spans (Engram's shape, not OpenTelemetry's): each
    step, then its phases, in order; at most ``limit`` spans."""
    rows = await steps.run_trace(rt, run_id)
    spans = [span for row in rows for span in step_traces.spans(row)]
    return json_reply(spans[:limit])


@router.get("/v1/runs/{run_id}/usage")
async def retrieve_run_usage(run_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.usage(await runs.retrieve_run(rt, run_id))


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
    """Filters on what Engram records: feedback and its tags as ``PATCH .../feedback``
    stored them; ``trace_ids`` (OpenTelemetry's, which Engram has not) match no step."""
    query = steps.StepQuery(
        agent_id=agent_id,
        model=model,
        start_date=start_date,
        end_date=end_date,
        feedback=feedback,
        has_feedback=has_feedback,
        tags=tags,
        trace_ids=trace_ids,
    )
    rows = await steps.list_steps(rt, query, Page(before, after, limit, order == "desc"))
    return json_reply([serialize.step(row) for row in rows])


@router.get("/v1/steps/{step_id}")
async def retrieve_step(step_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.step(await steps.retrieve_step(rt, step_id))


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
    page = Page(before, after, limit, order == "desc")
    rows = await steps.list_step_messages(rt, step_id, page)
    return json_reply(listing(rows, descending=page.descending))


@router.get("/v1/steps/{step_id}/metrics")
async def retrieve_step_metrics(step_id: str, rt: Runtime) -> dict[str, Any]:
    return step_traces.step_metrics(await steps.retrieve_step(rt, step_id))


@router.get("/v1/steps/{step_id}/trace")
async def retrieve_step_trace(step_id: str, rt: Runtime) -> dict[str, Any]:
    return step_traces.step_trace(await steps.retrieve_step(rt, step_id))


@router.patch("/v1/steps/{step_id}/feedback")
async def update_step_feedback(step_id: str, body: FeedbackBody, rt: Runtime) -> dict[str, Any]:
    """Set (or, with ``null``, clear) the verdict on a step and add tags to it; a field
    left out is left as it is."""
    change = steps.Feedback(
        feedback=body.feedback, keep="feedback" not in body.model_fields_set, tags=body.tags
    )
    return serialize.step(await steps.update_feedback(rt, step_id, change))
