"""Runs (one request's execution) and steps (one LLM call each)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, String, cast, or_, select, update
from sqlalchemy import delete as sa_delete
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.store import tables as t
from engram.store.db import rows_changed
from engram.store.pagination import apply_cursor
from engram.store.tables import utcnow


@dataclass(frozen=True)
class StepFeedbackFilter:
    """The feedback filters of the step listing: the verdict, whether there is one, and
    tags (a step matches when it carries any of them)."""

    feedback: str | None = None
    has_feedback: bool | None = None
    tags: list[str] | None = None

    def apply(self, query: Select[t.Step]) -> Select[t.Step]:
        if self.feedback is not None:
            query = query.where(t.Step.feedback == self.feedback)
        if self.has_feedback is not None:
            present = t.Step.feedback.is_not(None)
            query = query.where(present if self.has_feedback else ~present)
        if self.tags:
            # Tags are a JSON list, written by json.dumps on both databases: a tag shows in
            # the stored text exactly as json.dumps spells it, quotes included.
            text = cast(t.Step.feedback_tags, String)
            query = query.where(
                or_(*(text.contains(json.dumps(tag), autoescape=True) for tag in self.tags))
            )
        return query


def set_feedback(
    session: Session, step_id: str, feedback: str | None, *, keep: bool, tags: list[str] | None
) -> t.Step:
    """Record the user's verdict on a step (``keep`` leaves the verdict as it was) and add
    ``tags`` to its tags, each once; NotFound for an unknown step."""
    row = get_step(session, step_id)
    if not keep:
        row.feedback = feedback
    if tags:
        current = list(row.feedback_tags or [])
        row.feedback_tags = current + [tag for tag in dict.fromkeys(tags) if tag not in current]
    session.flush()
    return row


def get(session: Session, run_id: str) -> t.Run:
    run = session.get(t.Run, run_id)
    if run is None:
        raise NotFound("run", run_id)
    return run


def steps_of(session: Session, run_id: str) -> list[t.Step]:
    rows = session.scalars(
        select(t.Step).where(t.Step.run_id == run_id).order_by(t.Step.created_at)
    )
    return list(rows)


def get_step(session: Session, step_id: str) -> t.Step:
    step = session.get(t.Step, step_id)
    if step is None:
        raise NotFound("step", step_id)
    return step


def list_runs(
    session: Session,
    *,
    agent_ids: list[str] | None,
    statuses: list[str] | None,
    background: bool | None,
    stop_reason: str | None,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
    conversation_id: str | None = None,
) -> list[t.Run]:
    """Runs by creation time, filtered; ``before``/``after`` are run ids."""
    query = select(t.Run)
    if conversation_id is not None:
        query = query.where(t.Run.conversation_id == conversation_id)
    if agent_ids is not None:
        query = query.where(t.Run.agent_id.in_(agent_ids))
    if statuses is not None:
        query = query.where(t.Run.status.in_(statuses))
    if background is not None:
        query = query.where(t.Run.background.is_(background))
    if stop_reason is not None:
        query = query.where(t.Run.stop_reason == stop_reason)
    query = apply_cursor(
        session,
        query,
        model=t.Run,
        order_column=t.Run.created_at,
        kind="run",
        before=before,
        after=after,
        limit=limit,
        descending=descending,
    )
    return list(session.scalars(query))


def list_steps(
    session: Session,
    *,
    run_id: str | None = None,
    agent_id: str | None = None,
    model: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    feedback: StepFeedbackFilter | None = None,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
) -> list[t.Step]:
    """Steps by creation time, filtered; ``before``/``after`` are step ids."""
    query = select(t.Step)
    if feedback is not None:
        query = feedback.apply(query)
    if run_id is not None:
        query = query.where(t.Step.run_id == run_id)
    if agent_id is not None:
        query = query.where(t.Step.agent_id == agent_id)
    if model is not None:
        query = query.where(t.Step.model == model)
    if start is not None:
        query = query.where(t.Step.created_at >= start)
    if end is not None:
        query = query.where(t.Step.created_at <= end)
    query = apply_cursor(
        session,
        query,
        model=t.Step,
        order_column=t.Step.created_at,
        kind="step",
        before=before,
        after=after,
        limit=limit,
        descending=descending,
    )
    return list(session.scalars(query))


def run_messages(
    session: Session,
    run_id: str,
    *,
    step_id: str | None = None,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
) -> list[t.Message]:
    """A run's messages (or one step's) in history order; cursors are message ids."""
    # Through the run_id index even for one step: step ids are not indexed.
    query = select(t.Message).where(t.Message.run_id == run_id)
    if step_id is not None:
        query = query.where(t.Message.step_id == step_id)
    query = apply_cursor(
        session,
        query,
        model=t.Message,
        order_column=t.Message.seq,
        kind="message",
        before=before,
        after=after,
        limit=limit,
        descending=descending,
    )
    return list(session.scalars(query))


def delete(session: Session, run: t.Run) -> None:
    """Forget a run and its steps; its messages stay in the history they belong to."""
    session.execute(sa_delete(t.Step).where(t.Step.run_id == run.id))
    session.delete(run)


def fail_abandoned_requests(session: Session, created_before: datetime, error: str) -> int:
    """Fail the runs of requests (not queued runs) still waiting to start since before
    ``created_before``: a request gives up waiting for its agent well before that, so the
    server that was holding it died. Returns how many."""
    failed = rows_changed(
        session,
        update(t.Run)
        .execution_options(synchronize_session=False)
        .where(
            t.Run.status == "created",
            t.Run.background.is_(False),
            t.Run.created_at < created_before,
        )
        .values(status="failed", stop_reason="error", error=error, completed_at=utcnow()),
    )
    return failed
