"""``Engram``: the synchronous twin of ``AsyncEngram``.

The async client runs on an event loop of its own, in one background thread, for the
whole time the client is open: background work (queued runs, recall indexing, MCP
sessions) keeps running between calls, as it does in a server. Each method call is handed
to that loop and waited for; async generators (streams) become plain iterators."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from engram.client.core import AsyncEngram
from engram.client.resource import Resource

T = TypeVar("T")


class _Portal:
    """An event loop running in a daemon thread, and a way to run coroutines on it."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="engram-client", daemon=True
        )
        self._thread.start()

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result()

    def iterate(self, stream: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self.call(_next_item(stream))
                except StopAsyncIteration:
                    return
        finally:
            closing = getattr(stream, "aclose", None)
            if closing is not None:
                self.call(closing())

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _next_item(stream: AsyncIterator[T]) -> T:
    """The stream's next item, as a coroutine the portal's loop can run."""
    return await anext(stream)


class SyncResource:
    """A resource of the async client seen synchronously: the same methods, the same
    arguments, the same results."""

    def __init__(self, target: Resource, portal: _Portal) -> None:
        self._target = target
        self._portal = portal

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, Resource):
            return SyncResource(value, self._portal)
        if inspect.iscoroutinefunction(value):
            return _blocking(value, self._portal)
        if inspect.isasyncgenfunction(value):
            return _iterating(value, self._portal)
        return value

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._target)) - {"_services"})


def _blocking(method: Callable[..., Coroutine[Any, Any, Any]], portal: _Portal) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return portal.call(method(*args, **kwargs))

    call.__doc__ = method.__doc__
    call.__name__ = method.__name__
    return call


def _iterating(method: Callable[..., AsyncIterator[Any]], portal: _Portal) -> Any:
    def call(*args: Any, **kwargs: Any) -> Iterator[Any]:
        return portal.iterate(method(*args, **kwargs))

    call.__doc__ = method.__doc__
    call.__name__ = method.__name__
    return call


class Engram:
    """One open Engram, used synchronously: ``with Engram.open("~/.engram") as client:``.

    Its resources are those of ``AsyncEngram`` (``client.agents``, ``client.blocks``,
    ``client.tools``, ``client.archives``, ``client.runs``, ``client.steps``,
    ``client.mcp_servers``), with the same methods, called without ``await``."""

    def __init__(self, inner: AsyncEngram, portal: _Portal) -> None:
        self._inner = inner
        self._portal = portal
        self._closed = False

    @classmethod
    def open(cls, target: str | Path | None = None, **settings: Any) -> Engram:
        """Open ``target``: a data dir (``"~/.engram"``), a database URL
        (``"postgresql://..."``), or None for the environment's; keyword arguments
        override settings by field name."""
        portal = _Portal()
        try:
            inner = portal.call(AsyncEngram.open(target, **settings))
        except BaseException:
            portal.stop()
            raise
        return cls(inner, portal)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if isinstance(value, Resource):
            return SyncResource(value, self._portal)
        if inspect.iscoroutinefunction(value):
            return _blocking(value, self._portal)
        return value

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._portal.call(self._inner.close())
        finally:
            self._portal.stop()

    def __enter__(self) -> Engram:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
