"""The in-context messages of each agent's threads, kept in memory between steps.

A thread is the agent's default one (messages with no conversation) or one of its
conversations; each has its own cursor and its own cached window.

History is append-only and the window only ever loses its oldest messages, so a cached
window is brought up to date by reading the messages newer than the last one it holds
and dropping those before the agent's cursor. That keeps a step's cost independent of
how long the window (and the history behind it) has grown.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engram.runtime.prompt import to_chat
from engram.store import tables as t
from engram.store.conversations import in_thread

ThreadKey = tuple[str, str | None]
"""(agent id, conversation id or None for the agent's default thread)."""


@dataclass
class Window:
    start_seq: int
    rows: list[t.Message] = field(default_factory=list)
    # One per row, aligned with ``rows``; None for a row the model does not see.
    chats: list[dict[str, Any] | None] = field(default_factory=list)
    tokens: int = 0

    @property
    def last_seq(self) -> int:
        return self.rows[-1].seq if self.rows else self.start_seq

    def extend(self, rows: list[t.Message]) -> None:
        for row in rows:
            self.rows.append(row)
            self.chats.append(to_chat(row))
            self.tokens += row.token_count

    def copy(self) -> Window:
        return Window(self.start_seq, list(self.rows), list(self.chats), self.tokens)

    def trim_to(self, start_seq: int) -> None:
        """Forget messages at or before ``start_seq`` (they were evicted)."""
        drop = 0
        while drop < len(self.rows) and self.rows[drop].seq <= start_seq:
            self.tokens -= self.rows[drop].token_count
            drop += 1
        del self.rows[:drop]
        del self.chats[:drop]
        self.start_seq = start_seq


class WindowCache:
    """Per-process cache of agents' windows; bounded, least recently used goes first."""

    def __init__(self, max_agents: int = 512, *, shared: bool = False) -> None:
        """``shared``: other server processes write to the same database, so a cached window
        may hold a message one of them deleted; it is then checked against a count."""
        self._windows: OrderedDict[ThreadKey, Window] = OrderedDict()
        self._max_agents = max_agents
        self._shared = shared
        self._lock = threading.Lock()

    def window(
        self, session: Session, agent: t.Agent, conversation_id: str | None = None
    ) -> Window:
        """The thread's window as of ``session``'s snapshot, as a copy the caller may keep;
        ``agent.window_start_seq`` is the thread's cursor (runtime/state.py sets it so for
        a conversation)."""
        key = (agent.id, conversation_id)
        thread = in_thread(t.Message.conversation_id, conversation_id)
        with self._lock:
            cached = self._windows.get(key)
            if cached is None or agent.window_start_seq < cached.start_seq:
                cached = Window(start_seq=agent.window_start_seq)
            elif agent.window_start_seq > cached.start_seq:
                cached.trim_to(agent.window_start_seq)
            since, held = cached.last_seq, len(cached.rows)
        if (
            self._shared
            and held
            and _stored_between(session, agent.id, thread, cached.start_seq, since) != held
        ):
            cached = Window(start_seq=agent.window_start_seq)
            since = cached.last_seq
        newer = list(
            session.scalars(
                select(t.Message)
                .where(t.Message.agent_id == agent.id, thread, t.Message.seq > since)
                .order_by(t.Message.seq)
            )
        )
        with self._lock:
            # Another reader may have extended this window while we queried.
            cached.extend([row for row in newer if row.seq > cached.last_seq])
            self._windows[key] = cached
            self._windows.move_to_end(key)
            while len(self._windows) > self._max_agents:
                self._windows.popitem(last=False)
            return cached.copy()

    def forget(self, agent_id: str, conversation_id: str | None = None) -> None:
        """Drop the cached windows of every thread of the agent, or of one conversation."""
        with self._lock:
            if conversation_id is not None:
                self._windows.pop((agent_id, conversation_id), None)
                return
            for key in [key for key in self._windows if key[0] == agent_id]:
                del self._windows[key]


def _stored_between(
    session: Session, agent_id: str, thread: Any, start_seq: int, last_seq: int
) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(t.Message)
            .where(
                t.Message.agent_id == agent_id,
                thread,
                t.Message.seq > start_seq,
                t.Message.seq <= last_seq,
            )
        )
        or 0
    )
