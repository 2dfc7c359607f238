"""Steps (one model call and the tools it ran): listing them across runs, reading one,
the messages one wrote, the user's feedback on one, and the timings of a run's steps."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from engram.ops.deps import HasDb
from engram.ops.paging import Page
from engram.store import runs
from engram.store import tables as t
from engram.times import parse_time


@dataclass(frozen=True)
class StepQuery:
    """The filters of ``GET /v1/steps/``; ``start_date``/``end_date`` are ISO 8601. Feedback
    and its tags are what ``update_feedback`` stored; Engram has no OpenTelemetry trace ids,
    so asking for ``trace_ids`` matches no step."""

    agent_id: str | None = None
    model: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    feedback: str | None = None
    has_feedback: bool | None = None
    tags: list[str] | None = None
    trace_ids: list[str] | None = None


async def list_steps(deps: HasDb, query: StepQuery, page: Page) -> list[t.Step]:
    """Steps matching ``query`` by creation time. A date that is not ISO 8601 is an
    InvalidInput naming ``start_date`` or ``end_date``."""
    start = parse_time("start_date", query.start_date)
    end = parse_time("end_date", query.end_date)
    if query.trace_ids:
        return []
    feedback = runs.StepFeedbackFilter(query.feedback, query.has_feedback, query.tags)

    def _read(session: Session) -> list[t.Step]:
        return runs.list_steps(
            session,
            agent_id=query.agent_id,
            model=query.model,
            start=start,
            end=end,
            feedback=feedback,
            before=page.before,
            after=page.after,
            limit=page.limit,
            descending=page.descending,
        )

    return await deps.db.read(_read)


async def retrieve_step(deps: HasDb, step_id: str) -> t.Step:
    """One step; NotFound for an unknown id."""
    return await deps.db.read(lambda session: runs.get_step(session, step_id))


async def list_step_messages(deps: HasDb, step_id: str, page: Page) -> list[t.Message]:
    """The messages the step wrote, in history order (reversed when ``page.descending``)."""

    def _read(session: Session) -> list[t.Message]:
        row = runs.get_step(session, step_id)
        return runs.run_messages(
            session,
            row.run_id,
            step_id=step_id,
            before=page.before,
            after=page.after,
            limit=page.limit,
            descending=page.descending,
        )

    return await deps.db.read(_read)


@dataclass(frozen=True)
class Feedback:
    """``PATCH /v1/steps/{id}/feedback``: the verdict (None clears it; ``keep`` when the
    request left it out) and tags to add."""

    feedback: str | None = None
    keep: bool = False
    tags: list[str] | None = None


async def update_feedback(deps: HasDb, step_id: str, change: Feedback) -> t.Step:
    """Store the user's feedback on a step; NotFound for an unknown id."""

    def _write(session: Session) -> t.Step:
        return runs.set_feedback(
            session, step_id, change.feedback, keep=change.keep, tags=change.tags
        )

    return await deps.db.write(_write)


async def run_trace(deps: HasDb, run_id: str) -> list[t.Step]:
    """The run's steps in order, whose timings make its trace (a run has at most its
    ``max_steps``); NotFound for an unknown run."""

    def _read(session: Session) -> list[t.Step]:
        runs.get(session, run_id)
        return runs.steps_of(session, run_id)

    return await deps.db.read(_read)
