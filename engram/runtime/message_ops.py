"""Deleting messages from an agent's history without breaking what depends on them.

A model call's tool results travel with the call: deleting an assistant message that
called tools deletes its results too, and a tool result alone cannot be deleted (the
window would hold a result without its call, which providers refuse). Passages written
by a deleted message stay, marked with the time their source went away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engram.errors import Conflict, NotFound
from engram.runtime.engine import Services
from engram.runtime.views import HELD
from engram.store import agents, passages
from engram.store import tables as t


@dataclass(frozen=True)
class Deleted:
    message_ids: list[str]
    passages_marked: int


async def delete_message(rt: Services, agent_id: str, message_id: str) -> Deleted:
    def _write(session: Session) -> Deleted:
        agents.get(session, agent_id)
        row = session.scalar(
            select(t.Message).where(t.Message.id == message_id, t.Message.agent_id == agent_id)
        )
        if row is None:
            raise NotFound("message", message_id)
        if row.role == "tool":
            caller = session.scalar(
                select(t.Message.id).where(
                    t.Message.agent_id == agent_id,
                    t.Message.step_id == row.step_id,
                    t.Message.role == "assistant",
                )
            )
            raise Conflict(
                f"message '{message_id}' is a tool result; it goes with the call that made "
                f"it: delete the assistant message '{caller}' instead"
            )
        doomed = [row]
        call_ids = [call["id"] for call in row.tool_calls or []]
        if call_ids:
            doomed += session.scalars(
                select(t.Message).where(
                    t.Message.agent_id == agent_id,
                    t.Message.role == "tool",
                    t.Message.tool_call_id.in_(call_ids),
                )
            )
        if any(call.get(HELD) for call in row.tool_calls or []):
            # The answer to an approval request goes with it (it shares the request's step).
            doomed += session.scalars(
                select(t.Message).where(
                    t.Message.agent_id == agent_id,
                    t.Message.role == "approval",
                    t.Message.step_id == row.step_id,
                )
            )
        ids = [message.id for message in doomed]
        marked = passages.mark_source_deleted(session, ids, datetime.now(UTC))
        session.execute(delete(t.Message).where(t.Message.id.in_(ids)))
        return Deleted(ids, marked)

    async with rt.agent_lock(agent_id):
        deleted = await rt.db.write(_write)
    # The cached window may hold the deleted rows; the next read rebuilds it.
    rt.windows.forget(agent_id)
    return deleted
