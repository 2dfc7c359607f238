"""Agent leases in the database: taken, renewed and given back in short transactions.

Each call is its own small transaction, so no connection is held while the turn the
lease protects waits on a model. A lease whose ``expires_at`` has passed belongs to
nobody: its holder died without giving it back, and the next taker replaces it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.store import tables as t
from engram.store.db import rows_changed
from engram.store.tables import utcnow

DEAD_HOLDER_AGE = timedelta(days=1)
"""How far in the past a dead holder's lease is set to end: past any orphan grace."""


def try_take(session: Session, agent_id: str, holder: str, ttl: timedelta) -> bool:
    """Take the agent's lease for ``holder`` if it is free or expired (or already ours)."""
    now = utcnow()
    taken = rows_changed(
        session,
        update(t.AgentLease)
        .where(
            t.AgentLease.agent_id == agent_id,
            (t.AgentLease.expires_at < now) | (t.AgentLease.holder == holder),
        )
        .values(holder=holder, acquired_at=now, expires_at=now + ttl)
        .execution_options(synchronize_session=False),
    )
    if taken:
        return True
    if session.get(t.Agent, agent_id) is None:
        raise NotFound("agent", agent_id)  # the insert's foreign key would fail, not "busy"
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
    renewed = rows_changed(
        session,
        update(t.AgentLease)
        .where(t.AgentLease.agent_id == agent_id, t.AgentLease.holder == holder)
        .values(expires_at=utcnow() + ttl)
        .execution_options(synchronize_session=False),
    )
    return bool(renewed)


def give_back(session: Session, agent_id: str, holder: str) -> None:
    """End the lease now. The row stays, expired: when it ended tells the orphan sweep that
    a run still marked running was just finishing, not abandoned."""
    session.execute(
        update(t.AgentLease)
        .where(t.AgentLease.agent_id == agent_id, t.AgentLease.holder == holder)
        .values(expires_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def expire_dead_holders(session: Session, host: str, me: str, alive: Callable[[int], bool]) -> int:
    """End at once the leases of earlier server processes on this host that are gone (their
    pid is not running, or is this process's own: a restarted container), instead of
    waiting for them to expire, or for the grace period after they expired; returns how
    many."""
    ended = 0
    # Leases that ran out on their own count too: one that expired a moment ago is still
    # within the orphan grace period, and would keep its dead holder's runs "running".
    since = utcnow() - DEAD_HOLDER_AGE
    held: list[t.AgentLease | t.ConversationLease] = [
        *session.scalars(select(t.AgentLease).where(t.AgentLease.expires_at > since)),
        *session.scalars(select(t.ConversationLease).where(t.ConversationLease.expires_at > since)),
    ]
    for lease in held:
        their_host, _, rest = lease.holder.partition(":")
        pid_text = rest.partition(":")[0]
        if their_host != host or lease.holder == me or not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == os.getpid() or not alive(pid):
            lease.expires_at = utcnow() - DEAD_HOLDER_AGE
            ended += 1
    return ended


def holder_of(session: Session, agent_id: str, now: datetime | None = None) -> str | None:
    lease = session.get(t.AgentLease, agent_id)
    if lease is None or lease.expires_at < (now or utcnow()):
        return None
    return lease.holder


def fail_orphaned_runs(session: Session, grace: timedelta) -> int:
    """Mark failed the runs left ``running`` by a server that died. A running turn holds its
    agent's lease and finishes its run just after giving the lease back, so a run still
    running whose agent's lease ended more than ``grace`` ago (or never existed) has nobody
    working on it."""
    now = utcnow()
    recent = select(t.AgentLease.agent_id).where(t.AgentLease.expires_at >= now - grace)
    # A conversation's turn holds its conversation's lease instead (conversation_leases.py).
    recent_threads = select(t.ConversationLease.conversation_id).where(
        t.ConversationLease.expires_at >= now - grace
    )
    abandoned = or_(
        and_(t.Run.conversation_id.is_(None), t.Run.agent_id.not_in(recent)),
        and_(t.Run.conversation_id.is_not(None), t.Run.conversation_id.not_in(recent_threads)),
    )
    failed = rows_changed(
        session,
        update(t.Run)
        .where(t.Run.status == "running", abandoned)
        .values(
            status="failed",
            stop_reason="error",
            error="the server stopped while this run was in progress",
            completed_at=now,
        )
        .execution_options(synchronize_session=False),
    )
    return failed
