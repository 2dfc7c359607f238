"""A run's record: made ahead of its work (so it lists as active and can be cancelled while
it waits or runs), claimed when its turn starts, updated after each step, closed exactly
once, and cancelled on request.

A turn started without a run (the runtime used as a library) skips the first write: its
first step's transaction inserts the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.ids import new_id
from engram.llm.client import ChatResult
from engram.store import agents, conversations
from engram.store import tables as t
from engram.store.db import rows_changed

if TYPE_CHECKING:
    from engram.store.db import Database

ACTIVE_RUN_STATUSES = ("created", "running")


class RunsDeps(Protocol):
    """Run records are rows: the database is all that making and cancelling runs uses."""

    @property
    def db(self) -> Database: ...


async def create_run(
    rt: RunsDeps,
    agent_id: str,
    *,
    background: bool = False,
    request_config: dict[str, Any] | None = None,
    turn_input: dict[str, Any] | None = None,
    conversation_id: str | None = None,
) -> t.Run:
    """Record a run in status ``created``; a queued run keeps its ``turn_input`` so that it
    can still run after a restart. Raises NotFound for an unknown agent (or a conversation
    that is not the agent's), having written nothing."""

    def _write(session: Session) -> t.Run:
        agents.get(session, agent_id)
        if conversation_id is not None:
            conversations.get(session, conversation_id, agent_id)
        run = t.Run(
            conversation_id=conversation_id,
            id=new_id("run"),
            agent_id=agent_id,
            status="created",
            background=background,
            request_config=request_config,
            turn_input=turn_input,
            prompt_tokens=0,
            completion_tokens=0,
            step_count=0,
            created_at=datetime.now(UTC),
        )
        session.add(run)
        return run

    return await rt.db.write(_write)


CLAIMED = "claimed"


def claim_run(session: Session, run_id: str) -> str | None:
    """Start a run's turn: ``created`` becomes ``running``. Returns ``CLAIMED`` if this
    caller made it so and the turn is its to run; else the status the run has, "cancelled"
    (cancelled while it waited) or one another worker left ("running", "failed", ...: a
    queued job handed out twice runs its turn once); None if the run is gone."""
    claimed = rows_changed(
        session,
        update(t.Run)
        .execution_options(synchronize_session=False)
        .where(t.Run.id == run_id, t.Run.status == "created")
        .values(status="running"),
    )
    if claimed:
        return CLAIMED
    return session.scalar(select(t.Run.status).where(t.Run.id == run_id))


def mark_cancelled(session: Session, run_ids: list[str]) -> None:
    """Mark those of ``run_ids`` still active cancelled. The stop reason is known now;
    ``completed_at`` comes when the run's loop notices and stops."""
    if run_ids:
        session.execute(
            update(t.Run)
            .execution_options(synchronize_session=False)
            .where(t.Run.id.in_(run_ids), t.Run.status.in_(ACTIVE_RUN_STATUSES))
            .values(status="cancelled", stop_reason="cancelled")
        )


async def cancel_runs(rt: RunsDeps, agent_id: str, run_ids: list[str] | None) -> dict[str, str]:
    """Cancel the agent's active runs, or only ``run_ids``; returns each run's status after.

    The loop notices between steps: a step already calling the model still commits, and no
    step starts after it. Runs already finished keep their status. Raises NotFound for an
    unknown agent, or a run id that is not one of the agent's runs (nothing is cancelled)."""

    def _write(session: Session) -> dict[str, str]:
        agents.get(session, agent_id)
        query = select(t.Run.id, t.Run.status).where(t.Run.agent_id == agent_id)
        if run_ids is None:
            query = query.where(t.Run.status.in_(ACTIVE_RUN_STATUSES))
        else:
            query = query.where(t.Run.id.in_(run_ids))
        statuses = {row.id: row.status for row in session.execute(query)}
        for run_id in run_ids or []:
            if run_id not in statuses:
                raise NotFound("run", run_id)  # or not this agent's: the same answer
        active = [run_id for run_id, status in statuses.items() if status in ACTIVE_RUN_STATUSES]
        mark_cancelled(session, active)
        return {run_id: "cancelled" if run_id in active else s for run_id, s in statuses.items()}

    return await rt.db.write(_write)


@dataclass
class RunRecord:
    """What one write of a run's record says: the step just taken, and maybe its end."""

    run_id: str
    agent_id: str
    chat: ChatResult | None
    closing: bool
    stop_reason: str
    error: str | None
    duration_ns: int
    memory_metrics: dict[str, int] | None = None
    """The run's memory counts so far (``memory.ledger.MemoryMetrics``); they replace the
    stored ones, since the turn keeps the running totals."""
    conversation_id: str | None = None
    """The conversation the run's turn runs in (recorded when the run is inserted)."""


def write_run(session: Session, record: RunRecord, *, exists: bool) -> str | None:
    """Record a step's usage and, when closing, the run's end (and the agent's last run).

    One statement for the run: an UPDATE if it ``exists``, else an INSERT. Returns the
    stop reason the run closed with, which is "cancelled" when a cancel came meanwhile; None
    when not closing, or when the run was closed already (the first close stands)."""
    values: dict[str, Any] = {}
    chat = record.chat
    if chat is not None:
        values.update(
            prompt_tokens=t.Run.prompt_tokens + chat.prompt_tokens,
            completion_tokens=t.Run.completion_tokens + chat.completion_tokens,
            step_count=t.Run.step_count + 1,
            ttft_ns=func.coalesce(t.Run.ttft_ns, chat.ttft_ns),
        )
    if record.memory_metrics is not None:
        values["memory_metrics"] = record.memory_metrics
    now = datetime.now(UTC)
    if record.closing:
        values.update(error=record.error, completed_at=now, total_duration_ns=record.duration_ns)
    if exists:
        closed_as = _update_run(session, record, values)
    else:
        closed_as = _insert_run(session, record, values, now)
    if closed_as is not None:
        session.execute(
            update(t.Agent)
            .execution_options(synchronize_session=False)
            .where(t.Agent.id == record.agent_id)
            .values(
                last_stop_reason=closed_as,
                last_run_completion=now,
                last_run_duration_ms=record.duration_ns // 1_000_000,
                **_autoclear(record.agent_id, closed_as),
            )
        )
    return closed_as


def _autoclear(agent_id: str, closed_as: str) -> dict[str, Any]:
    """An agent with ``message_buffer_autoclear`` starts each turn with an empty window:
    the cursor moves past everything when a run ends, unless it waits on an approval (the
    call waiting must stay in the window for its answer)."""
    if closed_as == "requires_approval":
        return {}
    newest = (
        select(func.coalesce(func.max(t.Message.seq), 0))
        .where(t.Message.agent_id == agent_id)
        .scalar_subquery()
    )
    cleared = case((t.Agent.message_buffer_autoclear, newest), else_=t.Agent.window_start_seq)
    return {"window_start_seq": cleared}


def _final_status(stop_reason: str, error: str | None) -> str:
    if error:
        return "failed"
    return "cancelled" if stop_reason == "cancelled" else "completed"


def _update_run(session: Session, record: RunRecord, values: dict[str, Any]) -> str | None:
    statement = (
        update(t.Run).execution_options(synchronize_session=False).where(t.Run.id == record.run_id)
    )
    if not record.closing:
        session.execute(statement.values(**values))
        return None
    # A run cancelled meanwhile stays cancelled; RETURNING tells the turn so without
    # another query.
    was_cancelled = t.Run.status == "cancelled"
    final_status = session.execute(
        statement.where(t.Run.completed_at.is_(None))
        .values(
            **values,
            status=case(
                (was_cancelled, "cancelled"),
                else_=_final_status(record.stop_reason, record.error),
            ),
            stop_reason=case((was_cancelled, "cancelled"), else_=record.stop_reason),
        )
        .returning(t.Run.status)
    ).scalar_one_or_none()
    if final_status is None:
        return None
    return "cancelled" if final_status == "cancelled" else record.stop_reason


def _insert_run(
    session: Session, record: RunRecord, values: dict[str, Any], now: datetime
) -> str | None:
    chat = record.chat
    session.execute(
        insert(t.Run).values(
            {
                **values,
                "prompt_tokens": chat.prompt_tokens if chat else 0,
                "completion_tokens": chat.completion_tokens if chat else 0,
                "step_count": 1 if chat else 0,
                "ttft_ns": chat.ttft_ns if chat else None,
                "id": record.run_id,
                "agent_id": record.agent_id,
                "conversation_id": record.conversation_id,
                "status": (
                    _final_status(record.stop_reason, record.error) if record.closing else "running"
                ),
                "stop_reason": record.stop_reason if record.closing else None,
                "background": False,
                "created_at": now,
            }
        )
    )
    return record.stop_reason if record.closing else None
