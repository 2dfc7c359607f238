"""Live MCP sessions: one per registered server, opened on first use, kept for later calls.

Opening a session per call costs a stdio server a process start (and its own imports) on
every tool call; a live session pays that once. The robustness that per-call sessions gave
for free is kept here explicitly:

- a session that died (its process exited, its connection dropped) is noticed when it is
  next used: it is reopened once and the call retried once on the fresh session;
- a call that outlasts the server's timeout is an error; the session is then pinged, and
  if it does not answer within a few seconds it is closed (a stdio process is killed) and
  the next call opens a fresh one;
- every server has its own session and its own opening lock, so a hung or dead server
  delays only the calls made to it;
- updating or deleting a server closes its session, and so does shutting down;
- a session left unused for ``idle_seconds`` is closed, so a server no agent calls any
  more (or one deleted through another Engram process) does not keep a process forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from engram.mcp.client import (
    McpResult,
    McpServerError,
    McpTimeout,
    ServerConfig,
    call_on,
    open_session,
    within_timeout,
)

if TYPE_CHECKING:
    from mcp import ClientSession

log = logging.getLogger(__name__)

T = TypeVar("T")

PING_SECONDS = 5.0
"""How long a session whose call timed out has to answer a ping before it is replaced; at
most half the server's timeout, so that a call waiting for the verdict keeps time to open
a fresh session."""

CLOSE_SECONDS = 10.0
"""How long closing a session may take before its task is cancelled; the stdio transport
itself escalates from closing stdin to SIGTERM and SIGKILL within a few seconds."""


# The code the mcp package's streamable-HTTP client gives the error it makes up when the
# server answers 404 for the session (the server restarted, or expired the session).
SESSION_TERMINATED = 32600


class SessionLost(Exception):
    """The session ended while a request was waiting on it."""


class LiveSession:
    """One open session with one server, held open by a task of its own.

    The ``mcp`` transports are anyio task groups that one task must both enter and leave,
    so ``_hold`` opens the transport and the session, then waits to be told to stop.
    Callers on other tasks send requests through the session meanwhile: ``ClientSession``
    matches each response to its request by id, so concurrent calls are safe.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.closed_on_purpose = False
        self.probe: asyncio.Task[None] | None = None
        self.in_flight = 0
        self.last_used = time.monotonic()
        # Set when the session is retired: called once its last running call has finished.
        self.on_drained: Callable[[LiveSession], None] | None = None
        self._stop = asyncio.Event()
        self._session: asyncio.Future[ClientSession] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._hold(), name=f"mcp session '{config.name}'")
        self._task.add_done_callback(self._ended)

    async def _hold(self) -> None:
        async with open_session(self.config) as session:
            await session.initialize()
            self._session.set_result(session)
            await self._stop.wait()

    def _ended(self, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None and self._session.done():  # opening errors go to open()
            log.info("MCP server '%s': session ended: %r", self.config.name, error)

    @property
    def alive(self) -> bool:
        return not self._task.done() and not self._stop.is_set()

    async def open(self) -> None:
        """Wait until the session is initialized; raises whatever kept it from opening."""
        either: set[asyncio.Future[Any]] = {self._session, self._task}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not self._session.done():
            self._task.result()
            raise SessionLost("the session closed while it was opening")

    async def request(self, work: Callable[[ClientSession], Awaitable[T]]) -> T:
        """``work`` done on this session; ``SessionLost`` if the session ends first."""
        call = asyncio.ensure_future(work(self._session.result()))
        call.add_done_callback(_retrieve)
        self.in_flight += 1
        try:
            await asyncio.wait({call, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.in_flight -= 1
            self.last_used = time.monotonic()
            if not call.done():
                call.cancel()
            if self.in_flight == 0 and self.on_drained is not None:
                self.on_drained(self)
                self.on_drained = None
        if call.done() and not call.cancelled():
            return call.result()
        if self.closed_on_purpose:
            raise SessionLost("the session was closed: the server was changed or deleted")
        raise SessionLost("the session ended: the server exited or the connection dropped")

    async def close(self) -> None:
        """End the session: for stdio, stdin is closed, then the process terminated."""
        self._stop.set()
        if not self._session.done():
            self._task.cancel()  # still opening: nothing to close gracefully
        done, _ = await asyncio.wait({self._task}, timeout=CLOSE_SECONDS)
        if not done:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=CLOSE_SECONDS)


class McpSessions:
    """The live sessions of one server process, by MCP server id."""

    def __init__(self, idle_seconds: float = 600.0) -> None:
        self.idle_seconds = idle_seconds
        self._live: dict[str, LiveSession] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()
        # Ids are never reused, so remembering deleted ones keeps a call that read the
        # server's settings just before its deletion from opening a session nobody closes.
        self._deleted: set[str] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._shut = False

    async def call_tool(
        self, server_id: str, config: ServerConfig, name: str, arguments: dict[str, Any]
    ) -> McpResult:
        """Call tool ``name`` through the server's live session, opening it if needed.

        Raises ``McpServerError`` if the server cannot be started or reached, if its
        session dies twice, or if the call (opening included) outlasts its timeout.
        """
        doing = f"call tool '{name}'"

        async def work(session: ClientSession) -> McpResult:
            return await call_on(session, name, arguments)

        try:
            return await within_timeout(config, doing, self._call(server_id, config, work))
        except McpTimeout:
            self._suspect(server_id)
            raise

    async def close(self, server_id: str) -> None:
        """Close the server's session, if open (it was changed or deleted); calls waiting
        on it end with an error instead of being retried."""
        live = self._live.pop(server_id, None)
        if live is not None:
            live.closed_on_purpose = True
            await live.close()

    def retire(self, server_id: str) -> None:
        """Hand the server's session to no new call (its tools were just re-listed, maybe
        from a new version of it): later calls open a fresh session, while the calls
        running on the old one finish there before it is closed."""
        live = self._live.pop(server_id, None)
        if live is None:
            return
        if live.in_flight == 0:
            self._close_later(live)
        else:
            live.on_drained = self._close_later

    async def forget(self, server_id: str) -> None:
        """Close the session of a deleted server; no session is opened for it again."""
        self._deleted.add(server_id)
        await self.close(server_id)

    async def close_all(self) -> None:
        """Close every session, at shutdown; later calls are refused."""
        self._shut = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        sessions = list(self._live.values())
        self._live.clear()
        for live in sessions:
            live.closed_on_purpose = True
            if live.probe is not None:
                live.probe.cancel()
        await asyncio.gather(
            *(live.close() for live in sessions), *self._closing, return_exceptions=True
        )

    async def _call(
        self, server_id: str, config: ServerConfig, work: Callable[[ClientSession], Awaitable[T]]
    ) -> T:
        live = await self._session_for(server_id, config)
        try:
            return await live.request(work)
        except Exception as exc:
            if live.closed_on_purpose or not _is_lost(live, exc):
                raise
            log.warning(
                "MCP server '%s': session lost (%r); reopening it and retrying the call once",
                config.name,
                exc,
            )
        self._discard(server_id, live)
        live = await self._session_for(server_id, config)
        return await live.request(work)

    async def _session_for(self, server_id: str, config: ServerConfig) -> LiveSession:
        self._check_open(server_id, config)
        current = self._live.get(server_id)
        if current is not None and current.probe is not None:
            # A call to it timed out: wait for the verdict rather than pile onto it.
            await asyncio.shield(current.probe)
        live = self._usable(server_id, config)
        if live is not None:
            return live
        async with self._locks.setdefault(server_id, asyncio.Lock()):
            live = self._usable(server_id, config)
            if live is not None:
                return live
            self._discard(server_id, self._live.get(server_id))
            fresh = LiveSession(config)
            try:
                await fresh.open()
                self._check_open(server_id, config)
            except BaseException:
                self._close_later(fresh)
                raise
            self._live[server_id] = fresh
            if self._sweeper is None:
                self._sweeper = asyncio.create_task(self._sweep_idle())
            return fresh

    def _check_open(self, server_id: str, config: ServerConfig) -> None:
        if self._shut:
            raise McpServerError("Engram is shutting down; MCP calls are no longer made")
        if server_id in self._deleted:
            raise McpServerError(f"MCP server '{config.name}' was deleted")

    async def _sweep_idle(self) -> None:
        """Close idle sessions, for as long as this process makes MCP calls at all."""
        while not self._shut:
            await asyncio.sleep(min(self.idle_seconds / 2, 60.0))
            self._close_idle()

    def _close_idle(self) -> None:
        cutoff = time.monotonic() - self.idle_seconds
        for server_id, live in list(self._live.items()):
            if live.in_flight == 0 and live.last_used < cutoff:
                log.info("MCP server '%s': closing its idle session", live.config.name)
                self._discard(server_id, live)

    def _usable(self, server_id: str, config: ServerConfig) -> LiveSession | None:
        """The server's open session, unless it died or was opened with other settings
        (the server was changed, possibly by another Engram process)."""
        live = self._live.get(server_id)
        return live if live is not None and live.alive and live.config == config else None

    def _discard(self, server_id: str, live: LiveSession | None) -> None:
        if live is None:
            return
        if self._live.get(server_id) is live:
            del self._live[server_id]
        self._close_later(live)

    def _close_later(self, live: LiveSession) -> None:
        task = asyncio.create_task(live.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _suspect(self, server_id: str) -> None:
        live = self._live.get(server_id)
        if live is not None and live.alive and (live.probe is None or live.probe.done()):
            live.probe = asyncio.create_task(self._probe(server_id, live))

    async def _probe(self, server_id: str, live: LiveSession) -> None:
        """Ping a session whose call timed out; one that does not answer is replaced."""
        wait = min(PING_SECONDS, live.config.timeout_seconds / 2)
        try:
            await asyncio.wait_for(live.request(lambda session: session.send_ping()), wait)
        except Exception as exc:
            log.warning(
                "MCP server '%s' did not answer a ping within %gs after a call timed out "
                "(%r); closing its session, the next call starts a fresh one",
                live.config.name,
                wait,
                exc,
            )
            self._discard(server_id, live)
        finally:
            live.probe = None


def _is_lost(live: LiveSession, exc: Exception) -> bool:
    """Whether ``exc`` means the session is gone, rather than the server refusing a call."""
    import anyio
    from mcp.shared.exceptions import McpError
    from mcp.types import CONNECTION_CLOSED

    if isinstance(exc, SessionLost) or not live.alive:
        return True
    if isinstance(exc, McpError):
        return exc.error.code in (CONNECTION_CLOSED, SESSION_TERMINATED)
    return isinstance(
        exc, anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream
    )


def _retrieve(call: asyncio.Future[Any]) -> None:
    """Collect the outcome of a request nobody waits for any more (its session ended or
    its caller gave up), so that asyncio does not log it as never retrieved."""
    if not call.cancelled():
        call.exception()
