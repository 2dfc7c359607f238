"""Turns that run in the background: the request gets the run at once and polls it.

A queued run keeps its turn's input (``runs.turn_input``), so a turn that had not started
when its server stopped still runs after a restart: on PostgreSQL its job stays in the
queue's table and is handed out again once its worker is known dead; on SQLite, whose
queue lives in the server process, the next start queues it again from the run row.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engram.runtime.agent_gate import BusyPolicy
from engram.runtime.run_callbacks import post_run_end
from engram.runtime.run_recovery import STOPPED_BEFORE_START
from engram.runtime.runs import ACTIVE_RUN_STATUSES, RunsDeps, create_run
from engram.runtime.step import TurnDeps, run_turn
from engram.runtime.step_rows import InputMessage
from engram.runtime.turn_options import TurnOptions
from engram.store import tables as t

if TYPE_CHECKING:
    from engram.jobs import JobQueue
    from engram.runtime.agent_gate import AgentGate
    from engram.store.db import Database

log = logging.getLogger(__name__)

AGENT_TURN_JOB = "agent_turn"
"""The job that runs one turn for a run made by ``start_background_turn``."""

STOPPED_MID_RUN = "the server stopped while this run was in progress"
INPUT_NOT_KEPT = (
    "the server stopped before this queued run started, and the run has no input to "
    "resume with (it was queued by an earlier version); send the message again"
)


class QueueDeps(RunsDeps, Protocol):
    """What queueing a turn uses: the run's row, the agent's gate and the job queue."""

    @property
    def gate(self) -> AgentGate: ...

    @property
    def jobs(self) -> JobQueue: ...


class BackgroundDeps(QueueDeps, TurnDeps, Protocol):
    """What running queued turns uses: the job queue, and what each turn uses."""


async def start_background_turn(
    deps: QueueDeps,
    agent_id: str,
    inputs: list[InputMessage],
    *,
    if_busy: BusyPolicy,
    max_steps: int,
    request_config: dict[str, Any] | None = None,
    options: TurnOptions | None = None,
) -> t.Run:
    """Record a run and queue its turn; returns the run as created, before any step.
    Raises NotFound for an unknown agent, having recorded nothing. A busy agent is
    refused up front with ``if_busy="reject"`` (``AgentBusy``); else the queued turn waits
    for it."""
    thread = options.conversation_id if options else None
    if if_busy == "reject":
        await deps.gate.refuse_if_busy(agent_id, thread)
    turn_input: dict[str, Any] = {
        "inputs": [asdict(item) for item in inputs],
        "max_steps": max_steps,
    }
    if options is not None:
        turn_input["options"] = options.to_json()
    run = await create_run(
        deps,
        agent_id,
        background=True,
        request_config=request_config,
        turn_input=turn_input,
        conversation_id=thread,
    )
    await deps.jobs.enqueue(AGENT_TURN_JOB, _payload(run.id, agent_id, turn_input))
    return run


def register_jobs(deps: BackgroundDeps) -> None:
    """Tell ``deps.jobs`` how to run the runtime's background jobs; called once at start
    (``lifecycle.start``)."""
    deps.jobs.register(AGENT_TURN_JOB, partial(_agent_turn, deps))


async def recover_runs(db: Database, jobs: JobQueue) -> int:
    """After a restart of the one server of an embedded database (SQLite): queue again the
    queued runs that had not started, in the order they were accepted, and fail the rest
    of what was active (its turn died with the process). Returns how many were queued."""
    queued = await db.write(_settle_interrupted_runs)
    for run_id, agent_id, turn_input in queued:
        await jobs.enqueue(AGENT_TURN_JOB, _payload(run_id, agent_id, turn_input))
    if queued:
        log.warning(
            "%d queued runs had not started before the last stop; running them now", len(queued)
        )
    return len(queued)


def _payload(run_id: str, agent_id: str, turn_input: dict[str, Any]) -> dict[str, Any]:
    return {"agent_id": agent_id, "run_id": run_id, **turn_input}


def _settle_interrupted_runs(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
    rows = session.execute(
        select(t.Run.id, t.Run.agent_id, t.Run.status, t.Run.background, t.Run.turn_input)
        .where(t.Run.status.in_(ACTIVE_RUN_STATUSES))
        .order_by(t.Run.created_at, t.Run.id)
    ).all()
    queued: list[tuple[str, str, dict[str, Any]]] = []
    failed: dict[str, str] = {}
    for row in rows:
        if row.status == "running":
            failed[row.id] = STOPPED_MID_RUN
        elif not row.background:
            failed[row.id] = STOPPED_BEFORE_START  # a request whose connection is gone
        elif not row.turn_input:
            failed[row.id] = INPUT_NOT_KEPT
        else:
            queued.append((row.id, row.agent_id, row.turn_input))
    now = datetime.now(UTC)
    for run_id, error in failed.items():
        session.execute(
            update(t.Run)
            .execution_options(synchronize_session=False)
            .where(t.Run.id == run_id)
            .values(status="failed", stop_reason="error", error=error, completed_at=now)
        )
    return queued


async def _agent_turn(deps: TurnDeps, payload: dict[str, Any]) -> None:
    inputs = [InputMessage(**item) for item in payload["inputs"]]
    options = TurnOptions.from_json(payload.get("options"))
    await run_turn(
        deps,
        payload["agent_id"],
        inputs,
        # The client already has its run: a queued turn waits its agent's turn, whatever
        # the request that queued it asked of a busy agent.
        if_busy="wait",
        run_id=payload["run_id"],
        max_steps=payload["max_steps"],
        requeue_if_stopped=True,
        options=options,
    )
    if options.callback_url is not None:  # the run has ended: tell whoever asked
        await post_run_end(deps, payload["run_id"], options.callback_url)
