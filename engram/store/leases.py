"""Agent leases in the database: taken, renewed and given back in short transactions.

Each call is its own small transaction, so no connection is held while the turn the
lease protects waits on a model. A lease whose ``expires_at`` has passed belongs to
nobody: its holder died without giving it back, and the next taker replaces it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engram.store import tables as t
from engram.store.tables import utcnow


def try_take(session: Session, agent_id: str, holder: str, ttl: timedelta) -> bool:
    """Take the agent's lease for ``holder`` if it is free or expired (or already ours)."""
    now = utcnow()
    taken = session.execute(
        update(t.AgentLease)
        .where(
            t.AgentLease.agent_id == agent_id,
            (t.AgentLease.expires_at < now) | (t.AgentLease.holder == holder),
        )
        .values(holder=holder, acquired_at=now, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount:
        return True
    try:
        with session.begin_nested():
            session.add(
                t.AgentLease(
                    agent_id=agent_id, holder=holder, acquired_at=now, expires_at=now + ttl
                )
            )
    except IntegrityError:
        return False  # someone holds it, or took it between our two statements
    return True


def renew(session: Session, agent_id: str, holder: str, ttl: timedelta) -> bool:
    """Push the expiry on; False if the lease is no longer ours (it expired and was taken)."""
    renewed = session.execute(
        update(t.AgentLease)
        .where(t.AgentLease.agent_id == agent_id, t.AgentLease.holder == holder)
        .values(expires_at=utcnow() + ttl)
        .execution_options(synchronize_session=False)
    )
    return bool(renewed.rowcount)


def give_back(session: Session, agent_id: str, holder: str) -> None:
    session.execute(
        delete(t.AgentLease)
        .where(t.AgentLease.agent_id == agent_id, t.AgentLease.holder == holder)
        .execution_options(synchronize_session=False)
    )


def holder_of(session: Session, agent_id: str, now: datetime | None = None) -> str | None:
    lease = session.get(t.AgentLease, agent_id)
    if lease is None or lease.expires_at < (now or utcnow()):
        return None
    return lease.holder


def fail_orphaned_runs(session: Session, grace: timedelta) -> int:
    """Mark failed the runs left ``running`` by a server that died: a running turn holds its
    agent's lease, so a running run whose agent has no live lease (and that started more
    than ``grace`` ago, so it is not still taking it) has nobody working on it."""
    now = utcnow()
    live = select(t.AgentLease.agent_id).where(t.AgentLease.expires_at >= now)
    failed = session.execute(
        update(t.Run)
        .where(
            t.Run.status == "running",
            t.Run.created_at < now - grace,
            t.Run.agent_id.not_in(live),
        )
        .values(
            status="failed",
            stop_reason="error",
            error="the server running this turn stopped before it finished",
            completed_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return failed.rowcount or 0
