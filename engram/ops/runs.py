"""Runs (what one request did): listing, reading and deleting their records, and what
each run wrote (messages, steps, usage), each read or change as one transaction.

Runs are started and cancelled by the message operations and the step engine
(``engram.runtime.runs``); this module only looks at what they left."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy.orm import Session

from engram.errors import Conflict
from engram.ops.deps import HasDb
from engram.ops.paging import Page
from engram.runtime.runs import ACTIVE_RUN_STATUSES
from engram.store import runs
from engram.store import tables as t

RunStatus = Literal["created", "running", "completed", "failed", "cancelled"]
# Letta's StopReasonType: what a run or step may report as its ending.
StopReason = Literal[
    "end_turn",
    "error",
    "llm_api_error",
    "invalid_llm_response",
    "invalid_tool_call",
    "max_steps",
    "max_tokens_exceeded",
    "no_tool_call",
    "tool_rule",
    "cancelled",
    "insufficient_credits",
    "requires_approval",
    "context_window_overflow_in_system_prompt",
]
RUN_STATUSES = frozenset(get_args(RunStatus))
STOP_REASONS = frozenset(get_args(StopReason))


@dataclass(frozen=True)
class RunQuery:
    """The filters of ``GET /v1/runs/`` as Letta names them, with its older spelling
    ``agent_ids`` (``agent_id`` wins when both come); ``active`` narrows ``statuses`` to
    the runs still going."""

    agent_id: str | None = None
    agent_ids: list[str] | None = None
    statuses: list[str] | None = None
    background: bool | None = None
    stop_reason: str | None = None
    conversation_id: str | None = None
    active: bool = False

    def wanted_statuses(self) -> list[str] | None:
        wanted = list(self.statuses) if self.statuses else None
        if not self.active:
            return wanted
        return [s for s in (wanted or ACTIVE_RUN_STATUSES) if s in ACTIVE_RUN_STATUSES]


def newest_first(order: Literal["asc", "desc"] | None, ascending: bool | None) -> bool:
    """Runs list newest first unless asked otherwise; ``ascending`` is Letta's older
    spelling of ``order``, which wins when both come."""
    return order == "desc" if order is not None else not ascending


async def list_runs(deps: HasDb, query: RunQuery, page: Page) -> list[t.Run]:
    """The runs matching ``query`` in creation order; ``conversation_id`` keeps the runs
    of that conversation."""
    wanted_agents = [query.agent_id] if query.agent_id is not None else query.agent_ids
    wanted_statuses = query.wanted_statuses()

    def _read(session: Session) -> list[t.Run]:
        return runs.list_runs(
            session,
            agent_ids=wanted_agents,
            statuses=wanted_statuses,
            background=query.background,
            stop_reason=query.stop_reason,
            before=page.before,
            after=page.after,
            limit=page.limit,
            descending=page.descending,
            conversation_id=query.conversation_id,
        )

    return await deps.db.read(_read)


async def retrieve_run(deps: HasDb, run_id: str) -> t.Run:
    """One run (its usage too: the token totals are the run's columns); NotFound else."""
    return await deps.db.read(lambda session: runs.get(session, run_id))


async def delete_run(deps: HasDb, run_id: str) -> t.Run:
    """Delete a finished run and its steps, answering the run as it was; its messages
    stay in the agent's history. A run still going is a Conflict: cancel it first."""

    def _write(session: Session) -> t.Run:
        run = runs.get(session, run_id)
        if run.status in ACTIVE_RUN_STATUSES:
            raise Conflict(
                f"run '{run_id}' is {run.status}: cancel it first "
                f"(POST /v1/agents/{run.agent_id}/messages/cancel), then delete it"
            )
        runs.delete(session, run)
        return run

    return await deps.db.write(_write)


async def list_run_messages(deps: HasDb, run_id: str, page: Page) -> list[t.Message]:
    """The messages the run wrote, in history order (reversed when ``page.descending``)."""

    def _read(session: Session) -> list[t.Message]:
        runs.get(session, run_id)
        return runs.run_messages(
            session,
            run_id,
            before=page.before,
            after=page.after,
            limit=page.limit,
            descending=page.descending,
        )

    return await deps.db.read(_read)


async def list_run_steps(deps: HasDb, run_id: str, page: Page) -> list[t.Step]:
    """The run's steps in creation order; NotFound for an unknown run."""

    def _read(session: Session) -> list[t.Step]:
        runs.get(session, run_id)
        return runs.list_steps(
            session,
            run_id=run_id,
            before=page.before,
            after=page.after,
            limit=page.limit,
            descending=page.descending,
        )

    return await deps.db.read(_read)
