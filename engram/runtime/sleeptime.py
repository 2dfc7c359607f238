"""When a sleep-time agent runs: after every N completed turns of its main agent.

``after_turn`` is the one call the turn loop makes once a turn has ended and committed.
It returns at once: the counting happens in a task of its own, so the main agent's reply
never waits for it. When the count reaches the group's ``sleeptime_agent_frequency``, a
run of the sleep-time agent is recorded, with the main agent's transcript since the last
run as its input, and handed to the same durable job queue as any background run
(``background.AGENT_TURN_JOB``): it is listed under the sleep-time agent's id, survives a
restart like any queued run, and its memory edits are recorded with it as the actor.

Turns are counted per thread of the main agent: each conversation, and the agent's own
default thread, has its own count and its own transcript range (``Group.threads``, keyed
by conversation id or ``"default"``), so a run reads one conversation's messages only.

At most one run per pairing is active: a turn that ends while one is queued or running
only adds to its thread's count, and that thread's next run takes every turn of the
thread since its last completed one. Each run keeps the range of the thread's messages it
was given (``turn_input.sleeptime``): a run that failed (its model call, or a restart
mid-run) is followed by one that starts where the failed one started, so nothing is
skipped, and a run a restart interrupted is queued again at start (``resume_interrupted``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engram.ids import new_id
from engram.jobs import JobQueue
from engram.memory import dedup
from engram.runtime.runs import ACTIVE_RUN_STATUSES
from engram.runtime.step_rows import InputMessage
from engram.store import groups
from engram.store import tables as t
from engram.store.conversations import in_thread
from engram.store.db import Database

log = logging.getLogger(__name__)

# background.py's job kind and error text (imported from there they would make a cycle:
# the turn loop calls this module, and background.py calls the turn loop); a unit test
# holds them equal.
AGENT_TURN_JOB = "agent_turn"
STOPPED_MID_RUN = "the server stopped while this run was in progress"
UPKEEP_JOB = "archival_upkeep"
"""Merges the main agent's near-duplicate archival passages (memory/dedup.py)."""
RUN_TYPE = "sleeptime_agent_send_message_async"
COUNTED = frozenset({"end_turn", "max_steps"})
"""Turns that count: those that ended with an answer (not failed, cancelled or waiting)."""
MAX_STEPS = 10
TRANSCRIPT_CHARS = 40_000
"""The transcript a run is given is cut to its most recent part beyond this."""

DEFAULT_THREAD = "default"
"""The key of the main agent's own thread in ``Group.threads``."""

Job = tuple[str, dict[str, Any]]


class SleeptimeDeps(Protocol):
    """What counting turns and queueing sleep-time work use: the database and the queue."""

    @property
    def db(self) -> Database: ...

    @property
    def jobs(self) -> JobQueue: ...


def after_turn(
    deps: SleeptimeDeps, agent_id: str, stop_reason: str, conversation_id: str | None = None
) -> None:
    """Count a finished turn of ``agent_id`` (in ``conversation_id``, None for its own
    thread) towards that thread's sleep-time run, in the background."""
    if stop_reason not in COUNTED:
        return
    try:
        deps.jobs.spawn(
            _count_turn(deps.db, deps.jobs, agent_id, conversation_id or DEFAULT_THREAD),
            name=f"sleeptime-{agent_id}",
        )
    except RuntimeError:  # shutting down: this turn is not counted, the reply stands
        log.info("the server is stopping: a turn of %s was not counted", agent_id)


def register_jobs(deps: SleeptimeDeps) -> None:
    async def upkeep(payload: dict[str, Any]) -> None:
        await deps.db.write(lambda session: run_upkeep(session, payload["group_id"]))

    deps.jobs.register(UPKEEP_JOB, upkeep)


async def resume_interrupted(db: Database, jobs: JobQueue) -> int:
    """Queue again, from where it started, each sleep-time run that a stop of its server
    cut short (and that no later run has followed). Returns how many were queued."""

    def _write(session: Session) -> list[Job]:
        cut_short = select(t.Run.agent_id).where(t.Run.error == STOPPED_MID_RUN)
        candidates = session.scalars(
            select(t.Group).where(t.Group.sleeptime_agent_id.in_(cut_short)).with_for_update()
        ).all()
        queued: list[Job] = []
        for group in candidates:
            latest = _latest_run(session, group)
            if latest is not None and latest.error == STOPPED_MID_RUN:
                queued += _queue_run(session, group, _thread_of(latest), latest)
        return queued

    queued = await db.write(_write)
    await _enqueue(jobs, queued)
    return sum(1 for kind, _ in queued if kind == AGENT_TURN_JOB)


async def watch_interrupted(db: Database, jobs: JobQueue, period: float) -> None:
    """On a database shared by replicas a dead server's run is failed only once its lease
    has lapsed (run_recovery.sweep_orphaned_runs): look every ``period`` for sleep-time
    runs failed so, and queue them again."""
    while True:
        await asyncio.sleep(period)
        try:
            await resume_interrupted(db, jobs)
        except Exception:  # the database may be away; the next look tries again
            log.warning("could not look for interrupted sleep-time runs", exc_info=True)


def run_upkeep(session: Session, group_id: str) -> int:
    """Merge (or mark) the main agent's near-duplicate passages, as the group's settings
    say; 0 when the group is gone or upkeep is off."""
    group = session.get(t.Group, group_id)
    if group is None:
        return 0
    settings = dedup.UpkeepSettings.of(group.archival_upkeep)
    if not settings.enabled:
        return 0
    # Each upkeep compares only what was written since the last one with everything.
    since = int((group.archival_upkeep or {}).get(dedup.CHECKED, 0))
    main_id = group.manager_agent_id
    newest = dedup.newest_seq(session, main_id)
    if newest <= since:
        return 0
    found, _ = dedup.find_duplicates(session, main_id, settings, since_seq=since)
    merged = dedup.apply(session, found, settings.mode)
    group.archival_upkeep = {**dedup.upkeep_settings(group.archival_upkeep), dedup.CHECKED: newest}
    if merged:
        log.info("archival upkeep of %s: %d passages merged", group.manager_agent_id, merged)
    return merged


async def _count_turn(db: Database, jobs: JobQueue, agent_id: str, thread: str) -> None:
    try:
        # Most agents have no sleep-time agent: a read tells, without taking the write lock.
        if not await db.read(lambda session: groups.of_main_agent(session, agent_id) is not None):
            return
        queued = await db.write(lambda session: _count(session, agent_id, thread))
        await _enqueue(jobs, queued)
    except Exception:  # the next turn counts again; the main agent must not notice
        log.warning(
            "could not count a turn of %s for its sleep-time agent", agent_id, exc_info=True
        )


async def _enqueue(jobs: JobQueue, queued: list[Job]) -> None:
    for kind, payload in queued:
        await jobs.enqueue(kind, payload)


def _count(session: Session, agent_id: str, thread: str) -> list[Job]:
    group = groups.of_main_agent(session, agent_id, lock=True)
    if group is None:
        return []
    state = _thread_state(group, thread)
    counted = int(state.get("turns", 0)) + 1
    _set_thread_state(group, thread, turns=counted)
    latest = _thread_run(session, group, thread)
    interrupted = latest is not None and latest.error == STOPPED_MID_RUN
    if counted < group.sleeptime_agent_frequency and not interrupted:
        return []
    return _queue_run(session, group, thread, latest)


def _thread_state(group: t.Group, thread: str) -> dict[str, Any]:
    return dict((group.threads or {}).get(thread) or {})


def _set_thread_state(group: t.Group, thread: str, **changes: Any) -> None:
    """Change one thread's entry; ``turns_counter`` shows the count of the thread whose
    turn was counted or run last."""
    state = {**_thread_state(group, thread), **changes}
    group.threads = {**(group.threads or {}), thread: state}  # a new dict: the JSON is saved
    group.turns_counter = int(state.get("turns", 0))


def _thread_of(run: t.Run) -> str:
    span = (run.turn_input or {}).get("sleeptime") or {}
    return str(span.get("conversation_id") or DEFAULT_THREAD)


def _thread_run(session: Session, group: t.Group, thread: str) -> t.Run | None:
    """The last sleep-time run queued for ``thread``. A pairing made before runs were
    kept per thread had its runs read the agent's own thread: its latest stands for it."""
    state = _thread_state(group, thread)
    if "run_id" in state:
        return session.get(t.Run, state["run_id"])
    if thread != DEFAULT_THREAD:
        return None
    latest = _latest_run(session, group)
    span = ((latest.turn_input or {}).get("sleeptime") if latest is not None else None) or {}
    return latest if latest is not None and "conversation_id" not in span else None


def _latest_run(session: Session, group: t.Group) -> t.Run | None:
    query = (
        select(t.Run)
        .where(t.Run.agent_id == group.sleeptime_agent_id)
        .order_by(t.Run.created_at.desc(), t.Run.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _queue_run(session: Session, group: t.Group, thread: str, latest: t.Run | None) -> list[Job]:
    """Record the sleep-time run for the thread's turns since its last completed run
    (``latest``: the thread's last run); none while any run of the pairing is active (the
    turns wait for the next) or when there is nothing new."""
    active = _latest_run(session, group)
    if active is not None and active.status in ACTIVE_RUN_STATUSES:
        return []
    conversation_id = None if thread == DEFAULT_THREAD else thread
    start = _start_seq(session, group, latest)
    through = _last_seq(session, group.manager_agent_id, conversation_id)
    if through <= start:
        return []
    text = _prompt(_transcript(session, group.manager_agent_id, conversation_id, start, through))
    span = {
        "group_id": group.id,
        "conversation_id": conversation_id,
        "from_seq": start,
        "through_seq": through,
    }
    turn_input: dict[str, Any] = {
        "inputs": [asdict(InputMessage(role="user", text=text))],
        "max_steps": MAX_STEPS,
        "sleeptime": span,
    }
    run = t.Run(
        id=new_id("run"),
        agent_id=group.sleeptime_agent_id,
        status="created",
        background=True,
        metadata_={"run_type": RUN_TYPE, **span},
        turn_input=turn_input,
        prompt_tokens=0,
        completion_tokens=0,
        step_count=0,
    )
    session.add(run)
    _set_thread_state(group, thread, turns=0, run_id=run.id)
    queued: list[Job] = [
        (AGENT_TURN_JOB, {"agent_id": run.agent_id, "run_id": run.id, **turn_input})
    ]
    if dedup.UpkeepSettings.of(group.archival_upkeep).enabled:
        queued.append((UPKEEP_JOB, {"group_id": group.id}))
    return queued


def _start_seq(session: Session, group: t.Group, latest: t.Run | None) -> int:
    """Where the next transcript starts: after the last completed run's range, or where
    the last (failed) run's started, so that a failed run's turns are read again."""
    span = ((latest.turn_input or {}).get("sleeptime") if latest is not None else None) or {}
    if latest is None or not span:
        return group.start_seq
    if latest.status == "completed":
        through = int(span["through_seq"])
        last = session.scalars(select(t.Message.id).where(t.Message.seq == through)).first()
        group.last_processed_message_id = last
        return through
    return int(span["from_seq"])


def _last_seq(session: Session, agent_id: str, conversation_id: str | None) -> int:
    """The newest message of one thread of the agent (0 when it has none)."""
    newest = session.scalar(
        select(func.max(t.Message.seq)).where(
            t.Message.agent_id == agent_id, in_thread(t.Message.conversation_id, conversation_id)
        )
    )
    return int(newest or 0)


def _transcript(
    session: Session, agent_id: str, conversation_id: str | None, after: int, through: int
) -> str:
    rows = session.scalars(
        select(t.Message)
        .where(
            t.Message.agent_id == agent_id,
            in_thread(t.Message.conversation_id, conversation_id),
            t.Message.seq > after,
            t.Message.seq <= through,
        )
        .order_by(t.Message.seq)
    )
    lines = [line for row in rows if (line := _line(row))]
    text = "\n".join(lines)
    return text[-TRANSCRIPT_CHARS:]


def _line(row: t.Message) -> str | None:
    """A message as one transcript line: what the user said and the agent answered, and
    the tools it used (their results are left out: the blocks already hold what matters)."""
    if row.role == "user":
        return f"user: {row.text or ''}"
    if row.role != "assistant":
        return None
    said = row.text or ""
    used = []
    for call in row.tool_calls or []:
        if call.get("name") == "send_message":
            said = (said + " " + (row.search_text or "")).strip()
        else:
            used.append(f"[used {call.get('name')}({call.get('arguments', '')[:200]})]")
    return f"assistant: {' '.join([said, *used]).strip()}" if said or used else None


def _prompt(transcript: str) -> str:
    return (
        "This is the part of your main agent's conversation since you last looked. You are "
        "not in it and no one will read a reply: update the shared memory blocks from it "
        "where it taught something lasting, then call memory_finish_edits.\n\n"
        f"<transcript>\n{transcript}\n</transcript>"
    )
