"""Runs (one request's execution) and steps (one LLM call each)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import NotFound
from engram.store import tables as t


async def get(session: AsyncSession, run_id: str) -> t.Run:
    run = await session.get(t.Run, run_id)
    if run is None:
        raise NotFound("run", run_id)
    return run


async def steps_of(session: AsyncSession, run_id: str) -> list[t.Step]:
    rows = await session.scalars(
        select(t.Step).where(t.Step.run_id == run_id).order_by(t.Step.created_at)
    )
    return list(rows)
