"""Runs (one request's execution) and steps (one LLM call each)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.store import tables as t


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
