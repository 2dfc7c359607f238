"""Reattaching to a run's stream (``POST /v1/runs/{run_id}/stream``): what the run has
emitted so far, then what it emits until it ends, as the same server-sent events a live
``/messages/stream`` sends.

The events are rebuilt from the run's committed rows, not kept as a log of their own: each
step commits its messages and the run's end (status, stop reason, error, token totals) in
one transaction, and every Letta message a live stream sends whole is a view of one of
those messages. So the replay needs no extra writes, survives a restart as the rows do, and
any replica can serve it by reading the database: it polls the run's new rows every
``poll_interval`` seconds (a read of the run and of its messages after the last one seen,
through the messages' ``run_id`` index) until the run is finished. What never reaches the
database is not replayed: the token chunks of ``stream_tokens`` (their committed message is
sent whole instead) and pings.

Events are numbered by ``seq_id``, 1 for the first message of the run, in the order the
run committed them, as the live stream numbers them (runtime/streaming.py); a closing
``error_message`` continues the numbering, while ``stop_reason`` and ``usage_statistics``
carry none (Letta's have no such field) and end every stream. ``starting_after=n`` skips
the events numbered up to ``n``, so a client that saw event ``n`` resumes right after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.errors import InvalidInput, NotFound
from engram.ops.deps import HasDb
from engram.runtime.runs import ACTIVE_RUN_STATUSES
from engram.runtime.streaming import DONE, PING_SECONDS, Event, error_message, ping, stop_reason
from engram.runtime.views import letta_messages
from engram.store import runs
from engram.store import tables as t

INPUT_ROLES = frozenset({"user", "system"})
"""Roles only a turn's input has (the request's messages, the rules' notes): stored with
the run, never sent on its stream. Input in other roles is told apart by its place."""


@dataclass(frozen=True)
class Reattach:
    """The options of ``RetrieveStreamRequest`` as Letta names them."""

    starting_after: int = 0
    include_pings: bool = True
    poll_interval: float = 0.1
    batch_size: int = 100
    agent_id: str | None = None
    otid: str | None = None
    """The offline id of a message sent in the run: Letta's way to find the run, held here
    to the run the path names."""


@dataclass
class _Cursor:
    """How far the replay has read: the last message row's ``seq`` and the last number
    given."""

    after_seq: int = 0
    numbered: int = 0


async def check_run(deps: HasDb, run_id: str, request: Reattach) -> t.Run:
    """The run to follow, read before the stream begins so that an unknown run is a plain
    404 and a run of another agent than ``agent_id`` a 422 naming the field."""
    run = await deps.db.read(lambda session: runs.get(session, run_id))
    if request.agent_id is not None and request.agent_id != run.agent_id:
        raise InvalidInput("agent_id", f"run '{run_id}' belongs to agent '{run.agent_id}'")
    if request.otid is not None:
        otid = request.otid
        sent_in = await deps.db.read(lambda session: _runs_of_otid(session, run.agent_id, otid))
        if run_id not in sent_in:
            problem = (
                f"the message with otid '{otid}' was sent in run '{sent_in[0]}', not '{run_id}'"
                if sent_in
                else f"no message of agent '{run.agent_id}' has otid '{otid}'"
            )
            raise InvalidInput("otid", problem)
    return run


def _runs_of_otid(session: Session, agent_id: str, otid: str) -> list[str]:
    """The runs the agent's messages with offline id ``otid`` were sent in."""
    found = session.scalars(
        select(t.Message.run_id).where(t.Message.agent_id == agent_id, t.Message.otid == otid)
    )
    return [run for run in found if run is not None]


async def follow_run(deps: HasDb, run_id: str, request: Reattach) -> AsyncIterator[Event]:
    """Every event of the run after ``request.starting_after``, the committed ones at
    once, then the new ones as they commit, ``[DONE]`` last. Each poll is one read."""
    cursor = _Cursor()
    if request.include_pings:
        yield ping(run_id)
    quiet_since = time.monotonic()
    while True:
        try:
            run, rows = await deps.db.read(
                lambda session: _next_rows(session, run_id, cursor, request.batch_size)
            )
        except NotFound as exc:  # the run was deleted while followed
            for event in _vanished(run_id, str(exc)):
                yield event
            return
        events = _number(cursor, _views(rows), request.starting_after)
        for event in events:
            yield event
        if events:
            quiet_since = time.monotonic()
        if len(rows) >= request.batch_size:
            continue
        if run.status not in ACTIVE_RUN_STATUSES:
            break
        await asyncio.sleep(request.poll_interval)
        if request.include_pings and time.monotonic() - quiet_since >= PING_SECONDS:
            quiet_since = time.monotonic()
            yield ping(run_id)
    for event in _closing(run, cursor, request.starting_after):
        yield event
    yield DONE


def _next_rows(
    session: Session, run_id: str, cursor: _Cursor, limit: int
) -> tuple[t.Run, list[t.Message]]:
    # One read, one snapshot: a run seen ended has every row it committed in the same read.
    run = runs.get(session, run_id)
    query = select(t.Message).where(t.Message.run_id == run_id).order_by(t.Message.seq)
    rows = list(session.scalars(query.where(t.Message.seq > cursor.after_seq).limit(limit)))
    if len(rows) == limit and rows[-1].step_id is not None:
        # Whole steps only (a step's rows commit together): _views reads a step as a whole.
        rest = query.where(t.Message.seq > rows[-1].seq, t.Message.step_id == rows[-1].step_id)
        rows += session.scalars(rest)
    if rows:
        cursor.after_seq = rows[-1].seq
    return run, rows


def _views(rows: list[t.Message]) -> list[dict[str, Any]]:
    """What the live stream sent of these rows: a step's output, from the model's message
    (the step's last assistant row; input messages come before it) on, without inputs."""
    steps: dict[str | None, list[t.Message]] = {}
    for row in rows:
        steps.setdefault(row.step_id, []).append(row)
    views = []
    for step_rows in steps.values():
        model_at = max((n for n, row in enumerate(step_rows) if row.role == "assistant"), default=0)
        for row in step_rows[model_at:]:
            if row.role not in INPUT_ROLES:
                views += letta_messages(row)
    return views


def _number(
    cursor: _Cursor, events: list[dict[str, Any]], starting_after: int
) -> list[dict[str, Any]]:
    """Give each event the next ``seq_id``; keep those after ``starting_after``."""
    kept = []
    for event in events:
        cursor.numbered += 1
        if cursor.numbered > starting_after:
            kept.append({**event, "seq_id": cursor.numbered})
    return kept


def _closing(run: t.Run, cursor: _Cursor, starting_after: int) -> list[dict[str, Any]]:
    """How a finished run's live stream ended: its error (numbered, as Letta numbers
    one), then its stop reason and token totals, which carry no ``seq_id`` and close
    every stream whatever ``starting_after`` skipped."""
    reason = run.stop_reason or ("end_turn" if run.status == "completed" else "error")
    error = [error_message(run.id, reason, run.error)] if run.error else []
    usage = {
        "message_type": "usage_statistics",
        "completion_tokens": run.completion_tokens,
        "prompt_tokens": run.prompt_tokens,
        "total_tokens": run.prompt_tokens + run.completion_tokens,
        "step_count": run.step_count,
        "run_ids": None,
        "cached_input_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        # The context's size is known to the turn, not kept with its run.
        "context_tokens": None,
    }
    return [*_number(cursor, error, starting_after), stop_reason(reason), usage]


def _vanished(run_id: str, detail: str) -> list[Event]:
    return [error_message(run_id, "not_found", detail), stop_reason("error"), DONE]
