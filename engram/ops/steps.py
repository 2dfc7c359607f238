"""Steps (one model call and the tools it ran): listing them across runs, reading one,
and the messages one wrote, each as one read."""

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
    """The filters of ``GET /v1/steps/``. Engram records no feedback, tags or traces, so
    asking for any of them matches no step; ``start_date``/``end_date`` are ISO 8601."""

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
    if query.feedback is not None or query.has_feedback or query.tags or query.trace_ids:
        return []

    def _read(session: Session) -> list[t.Step]:
        return runs.list_steps(
            session,
            agent_id=query.agent_id,
            model=query.model,
            start=start,
            end=end,
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
