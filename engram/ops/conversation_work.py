"""Work on one thread of an agent (a conversation, or the agent's default thread): its
history, cancelling its runs, folding it now, forking it, recompiling its prompt, and
finding the run a reattaching stream follows."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.ids import new_id
from engram.ops.conversations import ConversationView, HasThreadGate, Thread, view
from engram.ops.messages import (
    Compaction,
    HasCompaction,
    MessageQuery,
    check_compaction_request,
)
from engram.runtime.folding import fold_window
from engram.runtime.runs import ACTIVE_RUN_STATUSES, mark_cancelled
from engram.runtime.state import compile_state, load_state
from engram.runtime.step_rows import row_values
from engram.store import agents, conversations, messages
from engram.store import tables as t
from engram.store.conversations import in_thread


class HasThreadCompaction(HasCompaction, HasThreadGate, Protocol):
    """Folds a thread now: its lock, and what a fold uses."""


async def list_messages(
    deps: HasThreadGate, thread: Thread, query: MessageQuery
) -> list[t.Message]:
    """A page of the thread's whole history (not only its window), in listing order."""

    def _read(session: Session) -> list[t.Message]:
        return messages.list_messages(
            session,
            thread.agent_id,
            before=query.before,
            after=query.after,
            limit=query.limit,
            descending=query.order == "desc",
            where=in_thread(t.Message.conversation_id, thread.conversation_id),
        )

    return await deps.db.read(_read)


async def cancel(deps: HasThreadGate, thread: Thread) -> dict[str, str]:
    """Cancel the thread's active runs: run id -> "cancelled". Its loop stops between steps."""

    def _write(session: Session) -> dict[str, str]:
        active = list(
            session.scalars(
                select(t.Run.id).where(
                    t.Run.agent_id == thread.agent_id,
                    in_thread(t.Run.conversation_id, thread.conversation_id),
                    t.Run.status.in_(ACTIVE_RUN_STATUSES),
                )
            )
        )
        mark_cancelled(session, active)
        return {run_id: "cancelled" for run_id in active}

    return await deps.db.write(_write)


def _window(session: Session, thread: Thread) -> tuple[int, list[t.Message], str, int]:
    """The thread's cursor, window rows, running summary and its tokens."""
    if thread.conversation_id is None:
        agent = agents.get(session, thread.agent_id)
        start, summary, tokens = agent.window_start_seq, agent.summary, agent.summary_tokens
    else:
        row = conversations.get(session, thread.conversation_id, thread.agent_id)
        start, summary, tokens = row.window_start_seq, row.fold_summary, row.fold_summary_tokens
    rows = session.scalars(
        select(t.Message)
        .where(
            t.Message.agent_id == thread.agent_id,
            in_thread(t.Message.conversation_id, thread.conversation_id),
            t.Message.seq > start,
        )
        .order_by(t.Message.seq)
    )
    return start, list(rows), summary, tokens


async def compact(
    deps: HasThreadCompaction, thread: Thread, settings: dict[str, Any] | None = None
) -> Compaction:
    """Fold the oldest messages of the thread's window into its summary now; ``settings``
    (compaction settings sent with the request) win over the agent's for this fold."""
    agent, before = await deps.db.read(
        lambda session: (agents.get(session, thread.agent_id), _window(session, thread)[1])
    )
    await check_compaction_request(deps, agent, settings)
    async with deps.thread_lock(thread.agent_id, thread.conversation_id):
        fold = await fold_window(
            deps,
            thread.agent_id,
            force=True,
            conversation_id=thread.conversation_id,
            settings=settings,
        )
    _, after, summary, _ = await deps.db.read(lambda session: _window(session, thread))
    return Compaction(fold.summary if fold else summary, len(before), len(after))


async def fork(deps: HasThreadGate, thread: Thread) -> ConversationView:
    """A new conversation of the agent holding a copy of the thread's window as committed
    now (a turn running in it is not waited for), its summary, model and isolated blocks."""

    def _write(session: Session) -> ConversationView:
        _, rows, summary, tokens = _window(session, thread)
        source = (
            conversations.get(session, thread.conversation_id)
            if thread.conversation_id is not None
            else None
        )
        copy = conversations.create(
            session,
            thread.agent_id,
            summary=source.summary if source else None,
            model=source.model if source else None,
            model_settings=source.model_settings if source else None,
            llm_config=source.llm_config if source else None,
        )
        copy.fold_summary, copy.fold_summary_tokens = summary, tokens
        if source is not None:
            for block in conversations.isolated_blocks(session, source.id):
                conversations.isolate(session, copy, block)
        if rows:
            session.execute(insert(t.Message), [_copied(row, copy.id) for row in rows])
            conversations.touch_conversation(session, copy.id)
        session.flush()
        return view(session, copy)

    return await deps.db.write(_write)


def _copied(row: t.Message, conversation_id: str) -> dict[str, object]:
    values = row_values(row)
    values.pop("seq", None)
    values.update(id=new_id("message"), conversation_id=conversation_id)
    return values


async def recompile(deps: HasThreadGate, thread: Thread, *, dry_run: bool) -> str:
    """The system prompt the thread's next step sends (its isolated blocks included);
    unless ``dry_run`` its cached window is dropped, so the next step reads it anew."""
    if not dry_run:
        deps.windows.forget(thread.agent_id, thread.conversation_id)
    state = await deps.db.read(
        lambda session: load_state(
            session, thread.agent_id, deps.windows, conversation_id=thread.conversation_id
        )[0]
    )
    return compile_state(state).system_prompt()


async def run_to_follow(deps: HasThreadGate, thread: Thread) -> str:
    """The thread's active run, else its last one; NotFound when it has had none."""

    def _read(session: Session) -> str:
        base = select(t.Run.id).where(
            t.Run.agent_id == thread.agent_id,
            in_thread(t.Run.conversation_id, thread.conversation_id),
        )
        active = session.scalar(
            base.where(t.Run.status.in_(ACTIVE_RUN_STATUSES)).order_by(t.Run.created_at.desc())
        )
        last = active or session.scalar(base.order_by(t.Run.created_at.desc()))
        if last is None:
            raise NotFound("run of conversation", thread.conversation_id or "default")
        return last

    return await deps.db.read(_read)
