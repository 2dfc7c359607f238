"""The one door from a sandboxed tool back to its agent's memory.

A tool runs in a child with no network and no view of the server's files, so it cannot
reach the REST API or the database. When a tool needs its agent's memory, it connects to
a Unix socket the server binds into the sandbox and sends line-delimited JSON requests,
each carrying the agent's id and a token. A token is minted for one tool call, names one
agent, allows a bounded number of operations and is revoked when the call ends; the
operations on offer (``memory_callbacks.OPERATIONS``) are the memory tools' own, nothing
of the server's internals. A path-bound Unix socket needs no network namespace, so the
door works for a tool that has no network at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from engram.runtime.memory_callbacks import OPERATIONS, CallbackError, Grant, MemoryDeps
from engram.tools.memory_access import MemoryAccess

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1_048_576
"""The longest request line a tool may send; longer ones close the connection."""
MAX_OPERATIONS_PER_CALL = 256
"""How many operations one tool call may make: enough for real work, not for a flood."""
GRACE_SECONDS = 5.0
"""How long past the tool's own timeout a forgotten token stays valid at most."""


@dataclass
class _Issued:
    grant: Grant
    expires_at: float
    operations: int = field(default=0)


class MemoryGateway:
    """Listens on a private Unix socket and answers tools' memory requests for the grants
    it issued. Started on the first tool call that needs it, so a server that never runs a
    custom tool never opens the socket."""

    def __init__(self, deps: MemoryDeps) -> None:
        self._deps = deps
        self._issued: dict[str, _Issued] = {}
        self._server: asyncio.AbstractServer | None = None
        self._dir: str | None = None
        self._starting = asyncio.Lock()

    @property
    def socket_path(self) -> str | None:
        return None if self._dir is None else os.path.join(self._dir, "memory.sock")

    async def start(self) -> str:
        async with self._starting:
            if self._server is None:
                # Short path (Unix socket paths are limited to ~100 bytes); the directory is
                # traversable but not listable, the socket open to the unprivileged user a
                # child runs as; the token, not the file mode, is what authorizes.
                self._dir = tempfile.mkdtemp(prefix="engram-mem-")
                os.chmod(self._dir, 0o711)
                path = self.socket_path
                assert path is not None
                self._server = await asyncio.start_unix_server(
                    self._serve, path=path, limit=MAX_REQUEST_BYTES
                )
                os.chmod(path, 0o666)
        assert self.socket_path is not None
        return self.socket_path

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._issued.clear()

    @contextlib.asynccontextmanager
    async def granted(self, grant: Grant, *, seconds: float) -> AsyncIterator[MemoryAccess]:
        """A token for ``grant`` valid while the block runs (and never past ``seconds``
        plus a grace period), revoked on the way out whatever happens."""
        path = await self.start()
        token = secrets.token_urlsafe(32)
        self._issued[token] = _Issued(grant, time.monotonic() + seconds + GRACE_SECONDS)
        try:
            yield MemoryAccess(path, grant.agent_id, token)
        finally:
            self._issued.pop(token, None)

    def _check(self, request: dict[str, Any]) -> Grant:
        token = request.get("token")
        issued = self._issued.get(token) if isinstance(token, str) else None
        if issued is None or time.monotonic() > issued.expires_at:
            raise CallbackError("the token is not valid (it lasts only for its tool call)")
        if request.get("agent_id") != issued.grant.agent_id:
            raise CallbackError("this token is for another agent")
        issued.operations += 1
        if issued.operations > MAX_OPERATIONS_PER_CALL:
            raise CallbackError(
                f"more than {MAX_OPERATIONS_PER_CALL} memory operations in one tool call"
            )
        return issued.grant

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    return  # the tool closed the connection
                except asyncio.LimitOverrunError:
                    await _reply(writer, _error(f"a request is limited to {MAX_REQUEST_BYTES}"))
                    return
                writer.write(await self._answer(line))
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            writer.close()

    async def _answer(self, line: bytes) -> bytes:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise CallbackError("a request is one JSON object per line")
            grant = self._check(request)
            operation = OPERATIONS.get(str(request.get("op")))
            if operation is None:
                known = ", ".join(sorted(OPERATIONS))
                raise CallbackError(f"unknown operation {request.get('op')!r}; known: {known}")
            args = request.get("args") or {}
            if not isinstance(args, dict):
                raise CallbackError("'args' must be a JSON object")
            result = await operation(self._deps, grant, args)
        except CallbackError as exc:
            return _encode(_error(str(exc)))
        except ValueError:
            return _encode(_error("a request must be valid JSON"))
        except Exception:
            log.exception("a tool's memory request failed")
            return _encode(_error("the server could not carry out this request"))
        return _encode({"ok": True, "result": result})


def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


async def _reply(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(_encode(message))
    with contextlib.suppress(ConnectionError):
        await writer.drain()
