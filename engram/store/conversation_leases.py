"""Conversation leases: ``store/leases.py``'s agent leases, for one thread of an agent.

A turn of a conversation holds its conversation's lease instead of its agent's, so two
conversations of one agent run at once across replicas while each conversation runs one
turn at a time. The same four calls as ``leases``, keyed by conversation id.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.store import tables as t
from engram.store.db import rows_changed
from engram.store.tables import utcnow


def try_take(session: Session, conversation_id: str, holder: str, ttl: timedelta) -> bool:
    """Take the lease for ``holder`` if it is free or expired (or already ours)."""
    now = utcnow()
    lease = t.ConversationLease
    taken = rows_changed(
        session,
        update(lease)
        .where(
            lease.conversation_id == conversation_id,
            (lease.expires_at < now) | (lease.holder == holder),
        )
        .values(holder=holder, acquired_at=now, expires_at=now + ttl)
        .execution_options(synchronize_session=False),
    )
    if taken:
        return True
    if session.get(t.Conversation, conversation_id) is None:
        raise NotFound("conversation", conversation_id)
    try:
        with session.begin_nested():
            session.add(
                lease(
                    conversation_id=conversation_id,
                    holder=holder,
                    acquired_at=now,
                    expires_at=now + ttl,
                )
            )
    except IntegrityError:
        return False
    return True


def renew(session: Session, conversation_id: str, holder: str, ttl: timedelta) -> bool:
    lease = t.ConversationLease
    return bool(
        rows_changed(
            session,
            update(lease)
            .where(lease.conversation_id == conversation_id, lease.holder == holder)
            .values(expires_at=utcnow() + ttl)
            .execution_options(synchronize_session=False),
        )
    )


def give_back(session: Session, conversation_id: str, holder: str) -> None:
    lease = t.ConversationLease
    session.execute(
        update(lease)
        .where(lease.conversation_id == conversation_id, lease.holder == holder)
        .values(expires_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def holder_of(session: Session, conversation_id: str, now: datetime | None = None) -> str | None:
    lease = session.get(t.ConversationLease, conversation_id)
    if lease is None or lease.expires_at < (now or utcnow()):
        return None
    return lease.holder
