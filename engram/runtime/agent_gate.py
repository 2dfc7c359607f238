"""One turn at a time per agent: within this process, and across replicas.

Within a process an ``asyncio.Lock`` per agent queues turns cheaply. When several server
processes share one database (PostgreSQL), a lease row (``store/leases.py``) is taken on
top: whoever holds it runs the agent's turn, renews it while the turn lasts, and gives it
back (ends it) at the end; a holder that died stops renewing and its lease expires. An embedded
SQLite database has one server, so there the lock alone decides.

A conversation of an agent is a lane of its own: its turns take the conversation's lock
and lease (``store/conversation_leases.py``) instead of the agent's, so two conversations
of one agent run at the same time while each runs one turn at a time.

A request for a busy agent waits, up to a bound (``ENGRAM_AGENT_BUSY_TIMEOUT_SECONDS``),
or is refused at once with a 409 when the client asks so (``if_busy=reject``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy.orm import Session

from engram.errors import Conflict
from engram.store import conversation_leases, leases
from engram.store.db import Database

log = logging.getLogger(__name__)

BusyPolicy = Literal["wait", "reject"]
"""What a caller wants when its agent is busy: passed down from the request that asked
(the ``if_busy`` query option) to the turn that takes the agent."""

LEASE_SECONDS = 30.0
"""A lease not renewed for this long is free for the taking."""
POLL_SECONDS = (0.05, 0.25)
"""How long a waiter sleeps between tries of a lease held elsewhere (uniform in range)."""


class AgentBusy(Conflict):
    """The agent is running another turn and the caller would not wait (longer)."""


class AgentGate:
    """Hands out the right to run a turn of an agent."""

    def __init__(self, db: Database, *, shared: bool, busy_timeout: float) -> None:
        self._db = db
        self._shared = shared
        self._busy_timeout = busy_timeout
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._ttl = timedelta(seconds=LEASE_SECONDS)

    @contextlib.asynccontextmanager
    async def hold(
        self, agent_id: str, *, policy: BusyPolicy = "wait", conversation_id: str | None = None
    ) -> AsyncIterator[None]:
        """Run the block as the agent's only turn (with ``conversation_id``: that
        conversation's only turn); raises ``AgentBusy`` per the policy (work that is not a
        client's turn, such as a fold or a deletion, waits)."""
        async with self._hold(conversation_id or agent_id, policy):
            yield

    @contextlib.asynccontextmanager
    async def _hold(self, agent_id: str, policy: BusyPolicy) -> AsyncIterator[None]:
        """``hold`` for one lane: an agent's id, or a conversation's (``conv-...``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._busy_timeout
        lock = self._locks[agent_id]
        if policy == "reject" and lock.locked():
            raise _busy(agent_id, waited=None)
        try:
            await asyncio.wait_for(lock.acquire(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise _busy(agent_id, waited=self._busy_timeout) from None
        try:
            if not self._shared:
                yield
                return
            await self._take(agent_id, policy, deadline)
            renewer = asyncio.create_task(self._keep(agent_id), name=f"lease:{agent_id}")
            try:
                yield
            finally:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
                await self._give_back(agent_id)
        finally:
            lock.release()

    async def refuse_if_busy(self, agent_id: str, conversation_id: str | None = None) -> None:
        """Raise ``AgentBusy`` if a turn of the agent (or of its conversation) runs now,
        here or on another server: for requests that answer before their turn starts (a
        stream, a queued run)."""
        lane = conversation_id or agent_id
        if self._locks[lane].locked():
            raise _busy(lane, waited=None)
        if self._shared:
            holder = await self._db.read(lambda session: _table(lane).holder_of(session, lane))
            if holder is not None:
                raise _busy(agent_id, waited=None)

    async def _take(self, agent_id: str, policy: BusyPolicy, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            taken = await self._db.write(
                lambda session: _table(agent_id).try_take(session, agent_id, self.holder, self._ttl)
            )
            if taken:
                return
            if policy == "reject":
                raise _busy(agent_id, waited=None)
            pause = random.uniform(*POLL_SECONDS)
            if loop.time() + pause > deadline:
                raise _busy(agent_id, waited=self._busy_timeout)
            await asyncio.sleep(pause)

    async def _keep(self, agent_id: str) -> None:
        """Renew the lease while the turn runs, well before it would expire."""
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                kept = await self._db.write(
                    lambda session: _table(agent_id).renew(
                        session, agent_id, self.holder, self._ttl
                    )
                )
            except Exception:
                log.exception("could not renew the lease of agent %s; retrying", agent_id)
                continue
            if not kept:
                log.error(
                    "the lease of agent %s was lost (not renewed in %.0f s): another server "
                    "may now run a turn of it at the same time",
                    agent_id,
                    LEASE_SECONDS,
                )
                return

    async def _give_back(self, agent_id: str) -> None:
        try:
            await self._db.write(
                lambda session: _table(agent_id).give_back(session, agent_id, self.holder)
            )
        except Exception:  # it expires on its own; the turn's outcome stands
            log.exception("could not give back the lease of agent %s", agent_id)


class LeaseTable(Protocol):
    """What the gate calls on a lease table (``store/leases.py`` for agents,
    ``store/conversation_leases.py`` for conversations), keyed by the lane's id."""

    def try_take(self, session: Session, key: str, holder: str, ttl: timedelta) -> bool: ...

    def renew(self, session: Session, key: str, holder: str, ttl: timedelta) -> bool: ...

    def give_back(self, session: Session, key: str, holder: str) -> None: ...

    def holder_of(self, session: Session, key: str, now: datetime | None = None) -> str | None: ...


def _table(lane: str) -> LeaseTable:
    """The lease table of a lane: a conversation's, or an agent's."""
    return conversation_leases if lane.startswith(CONVERSATION_PREFIX) else leases


CONVERSATION_PREFIX = "conv-"


def _busy(agent_id: str, *, waited: float | None) -> AgentBusy:
    kind = "conversation" if agent_id.startswith(CONVERSATION_PREFIX) else "agent"
    if waited is None:
        return AgentBusy(
            f"{kind} '{agent_id}' is running another turn (if_busy=reject); "
            "retry later, or send without if_busy to wait for it"
        )
    return AgentBusy(
        f"{kind} '{agent_id}' was still running another turn after {waited:g} s of waiting "
        "(ENGRAM_AGENT_BUSY_TIMEOUT_SECONDS); retry later"
    )
