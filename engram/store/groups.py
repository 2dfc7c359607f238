"""Sleep-time pairings (``tables.Group``): looked up by id, by either agent, or listed."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.store import tables as t


def get(session: Session, group_id: str) -> t.Group:
    group = session.get(t.Group, group_id)
    if group is None:
        raise NotFound("group", group_id)
    return group


def of_main_agent(session: Session, agent_id: str, *, lock: bool = False) -> t.Group | None:
    """The pairing ``agent_id`` is the main agent of, if any; ``lock`` holds the row for
    the rest of the transaction (PostgreSQL), so two turns never count the same turn."""
    query = select(t.Group).where(t.Group.manager_agent_id == agent_id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def of_agent(session: Session, agent_id: str) -> t.Group | None:
    """The pairing ``agent_id`` belongs to, as the main or the sleep-time agent."""
    query = select(t.Group).where(
        or_(t.Group.manager_agent_id == agent_id, t.Group.sleeptime_agent_id == agent_id)
    )
    return session.scalars(query).first()


def all_groups(session: Session) -> list[t.Group]:
    return list(session.scalars(select(t.Group).order_by(t.Group.created_at, t.Group.id)))


def forget_thread(session: Session, agent_id: str, conversation_id: str) -> None:
    """Drop a deleted conversation's sleep-time count and last run from the pairing
    ``agent_id`` is the main agent of (runtime/sleeptime.py), so nothing refers to it."""
    group = of_main_agent(session, agent_id, lock=True)
    if group is not None and conversation_id in (group.threads or {}):
        group.threads = {k: v for k, v in (group.threads or {}).items() if k != conversation_id}
