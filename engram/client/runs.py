"""``client.runs`` and ``client.steps``: what turns did, step by step.

    run = client.runs.retrieve(run_id)
    client.runs.messages.list(run_id)          # what the run wrote
    client.runs.messages.stream(run_id)        # its events, then live until it ends
    client.runs.steps.list(run_id)             # its model calls
    client.runs.usage.retrieve(run_id)         # its token totals
    client.runs.trace.retrieve(run_id)         # where its steps spent their time
    client.steps.list(agent_id=agent.id, start_date="2026-01-01")
    client.steps.metrics.retrieve(step_id)     # one step's timings, as Letta's StepMetrics
    client.steps.feedback.create(step_id, feedback="positive", tags=["good"])

Each answer has the fields the REST API sends for the same object.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from engram.api import serialize, step_traces
from engram.api.stream_requests import RetrieveStream
from engram.client.arguments import validated
from engram.client.checks import Limit, checked
from engram.client.messages import chunk
from engram.client.models import LettaMessage, Run, WireModel
from engram.client.resource import Resource
from engram.ops import run_stream, runs, steps
from engram.ops.paging import Page
from engram.ops.runs import RunStatus, StopReason
from engram.runtime.views import listing

if TYPE_CHECKING:
    from engram.runtime.engine import Services

Order = Literal["asc", "desc"]
SpanLimit = Annotated[int, Field(ge=1, le=5000)]


class Step(WireModel):
    """Letta's ``Step``: one model call and the tools it ran, with its token counts."""

    id: str
    run_id: str | None = None
    agent_id: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    stop_reason: str | None = None
    status: str | None = None
    feedback: str | None = None
    tags: list[str] | None = None
    conversation_id: str | None = None
    """The conversation the step ran in; None for the agent's default thread."""


class StepMetrics(WireModel):
    """Letta's ``StepMetrics``: where one step's time went, in nanoseconds."""

    id: str
    run_id: str | None = None
    agent_id: str | None = None
    step_start_ns: int | None = None
    llm_request_start_ns: int | None = None
    llm_request_ns: int | None = None
    tool_execution_ns: int | None = None
    step_ns: int | None = None


class ProviderTrace(WireModel):
    """A step's trace in the fields of Letta's ``ProviderTrace``, with Engram's ``spans``."""

    id: str | None = None
    step_id: str | None = None
    request_json: dict[str, Any]
    response_json: dict[str, Any]
    spans: list[dict[str, Any]] = []


class UsageStatistics(WireModel):
    """A run's token totals."""

    completion_tokens: int
    prompt_tokens: int
    total_tokens: int


def _page(
    before: str | None, after: str | None, limit: int | None, order: Order | None, *, newest: bool
) -> Page:
    """The page the route builds from the same query parameters, checked as it checks
    them; ``newest`` is the listing's order when none is given."""
    checked("order", order, Order | None)
    descending = order == "desc" if order is not None else newest
    return Page(before, after, checked("limit", limit, Limit), descending)


def _check_order_by(order_by: str) -> None:
    checked("order_by", order_by, Literal["created_at"])


class AsyncRunMessages(Resource):
    """``client.runs.messages``."""

    async def list(
        self,
        run_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int | None = 100,
        order: Order = "asc",
        order_by: str = "created_at",
    ) -> list[LettaMessage]:
        """The messages the run wrote, oldest first unless ``order="desc"``."""
        _check_order_by(order_by)
        page = _page(before, after, limit, order, newest=False)
        rows = await runs.list_run_messages(self._services, run_id, page)
        return LettaMessage.each(listing(rows, descending=page.descending))

    async def stream(
        self,
        run_id: str,
        *,
        starting_after: int = 0,
        include_pings: bool | None = True,
        poll_interval: float | None = 0.1,
        batch_size: int | None = 100,
        agent_id: str | None = None,
    ) -> AsyncIterator[WireModel]:
        """The run's events after ``starting_after`` (a ``seq_id``), those it has
        committed first, then the new ones until it ends, as ``POST
        /v1/runs/{run_id}/stream`` sends them; an unknown run raises NotFound at once."""
        body = validated(
            RetrieveStream,
            starting_after=starting_after,
            include_pings=include_pings,
            poll_interval=poll_interval,
            batch_size=batch_size,
            agent_id=agent_id,
        )
        request = body.to_op(run_id)
        await run_stream.check_run(self._services, run_id, request)
        async for event in run_stream.follow_run(self._services, run_id, request):
            if isinstance(event, dict):
                yield chunk(event)


class AsyncRunSteps(Resource):
    """``client.runs.steps``."""

    async def list(
        self,
        run_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int | None = 100,
        order: Order = "asc",
        order_by: str = "created_at",
    ) -> list[Step]:
        """The run's steps, oldest first unless ``order="desc"``."""
        _check_order_by(order_by)
        page = _page(before, after, limit, order, newest=False)
        rows = await runs.list_run_steps(self._services, run_id, page)
        return Step.each([serialize.step(row) for row in rows])


class AsyncRunUsage(Resource):
    """``client.runs.usage``."""

    async def retrieve(self, run_id: str) -> UsageStatistics:
        """The run's prompt, completion and total tokens."""
        run = await runs.retrieve_run(self._services, run_id)
        return UsageStatistics.model_validate(serialize.usage(run))


class AsyncRunTrace(Resource):
    """``client.runs.trace``."""

    async def retrieve(self, run_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """The run's steps and their phases as spans, in order; at most ``limit``."""
        checked("limit", limit, SpanLimit)
        rows = await steps.run_trace(self._services, run_id)
        return [span for row in rows for span in step_traces.spans(row)][:limit]


class AsyncRuns(Resource):
    """``client.runs``: the runs of every agent (a run is one request's execution)."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.messages = AsyncRunMessages(services)
        self.steps = AsyncRunSteps(services)
        self.usage = AsyncRunUsage(services)
        self.trace = AsyncRunTrace(services)

    async def list(
        self,
        *,
        active: bool = False,
        after: str | None = None,
        agent_id: str | None = None,
        agent_ids: Sequence[str] | None = None,
        ascending: bool | None = None,
        background: bool | None = None,
        before: str | None = None,
        conversation_id: str | None = None,
        limit: int | None = 100,
        order: Order | None = None,
        order_by: str = "created_at",
        statuses: Sequence[str] | None = None,
        stop_reason: str | None = None,
    ) -> list[Run]:
        """Runs newest first unless ``order="asc"`` (or Letta's older ``ascending=True``);
        ``active`` keeps the runs still going."""
        _check_order_by(order_by)
        query = runs.RunQuery(
            agent_id=agent_id,
            agent_ids=list(agent_ids) if agent_ids is not None else None,
            statuses=checked("statuses", list(statuses), list[RunStatus]) if statuses else None,
            background=background,
            stop_reason=checked("stop_reason", stop_reason, StopReason | None),
            conversation_id=conversation_id,
            active=active,
        )
        page = _page(before, after, limit, order, newest=runs.newest_first(None, ascending))
        rows = await runs.list_runs(self._services, query, page)
        return Run.each([serialize.run(row) for row in rows])

    async def retrieve(self, run_id: str) -> Run:
        """One run; NotFound for an unknown id."""
        return Run.model_validate(serialize.run(await runs.retrieve_run(self._services, run_id)))

    async def delete(self, run_id: str) -> Run:
        """Delete a finished run and its steps (its messages stay in the agent's history),
        answering the run as it was; a run still going is a Conflict: cancel it first."""
        return Run.model_validate(serialize.run(await runs.delete_run(self._services, run_id)))


class AsyncStepMessages(Resource):
    """``client.steps.messages``."""

    async def list(
        self,
        step_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int | None = 100,
        order: Order = "asc",
        order_by: str = "created_at",
    ) -> list[LettaMessage]:
        """The messages the step wrote, oldest first unless ``order="desc"``."""
        _check_order_by(order_by)
        page = _page(before, after, limit, order, newest=False)
        rows = await steps.list_step_messages(self._services, step_id, page)
        return LettaMessage.each(listing(rows, descending=page.descending))


class AsyncStepMetrics(Resource):
    """``client.steps.metrics``."""

    async def retrieve(self, step_id: str) -> StepMetrics:
        """The step's phase timings; NotFound for an unknown id."""
        row = await steps.retrieve_step(self._services, step_id)
        return StepMetrics.model_validate(step_traces.step_metrics(row))


class AsyncStepTrace(Resource):
    """``client.steps.trace``."""

    async def retrieve(self, step_id: str) -> ProviderTrace:
        """The step's model, usage and timing spans; NotFound for an unknown id."""
        row = await steps.retrieve_step(self._services, step_id)
        return ProviderTrace.model_validate(step_traces.step_trace(row))


class AsyncStepFeedback(Resource):
    """``client.steps.feedback``."""

    async def create(
        self,
        step_id: str,
        *,
        feedback: str | None = None,
        tags: Sequence[str] | None = None,
        keep_feedback: bool = False,
    ) -> Step:
        """Set the verdict on a step (``None`` clears it, unless ``keep_feedback``) and add
        ``tags`` to it."""
        change = steps.Feedback(
            feedback=checked("feedback", feedback, Literal["positive", "negative"] | None),
            keep=keep_feedback,
            tags=list(tags) if tags is not None else None,
        )
        row = await steps.update_feedback(self._services, step_id, change)
        return Step.model_validate(serialize.step(row))


class AsyncSteps(Resource):
    """``client.steps``: every agent's steps (a step is one model call)."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.messages = AsyncStepMessages(services)
        self.metrics = AsyncStepMetrics(services)
        self.trace = AsyncStepTrace(services)
        self.feedback = AsyncStepFeedback(services)

    async def list(
        self,
        *,
        after: str | None = None,
        agent_id: str | None = None,
        before: str | None = None,
        end_date: str | None = None,
        feedback: str | None = None,
        has_feedback: bool | None = None,
        limit: int | None = 100,
        model: str | None = None,
        order: Order = "desc",
        order_by: str = "created_at",
        project_id: str | None = None,
        start_date: str | None = None,
        tags: Sequence[str] | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> list[Step]:
        """Steps newest first unless ``order="asc"``; ``start_date``/``end_date`` are ISO
        8601. ``feedback``, ``has_feedback`` and ``tags`` match what ``feedback.create``
        stored; ``trace_ids`` (OpenTelemetry's) match none."""
        _check_order_by(order_by)
        query = steps.StepQuery(
            agent_id=agent_id,
            model=model,
            start_date=start_date,
            end_date=end_date,
            feedback=checked("feedback", feedback, Literal["positive", "negative"] | None),
            has_feedback=has_feedback,
            tags=list(tags) if tags is not None else None,
            trace_ids=list(trace_ids) if trace_ids is not None else None,
        )
        page = _page(before, after, limit, order, newest=True)
        rows = await steps.list_steps(self._services, query, page)
        return Step.each([serialize.step(row) for row in rows])

    async def retrieve(self, step_id: str) -> Step:
        """One step; NotFound for an unknown id."""
        row = await steps.retrieve_step(self._services, step_id)
        return Step.model_validate(serialize.step(row))
