"""A turn as a stream of Letta events: pings, messages as steps commit (or token chunks as
the model produces them), then stop reason, usage and ``[DONE]``.

The turn runs in a task of its own and feeds a queue; the reader only drains the queue. A
client that goes away therefore stops the delivery, never the turn: the agent finishes
its steps (or is cancelled between them) exactly as it would have with the client there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from engram.errors import EngramError
from engram.ids import new_id
from engram.llm.client import ContentDelta
from engram.runtime.agent_gate import BusyPolicy
from engram.runtime.step import TurnDeps, TurnResult, run_turn
from engram.runtime.step_rows import InputMessage
from engram.runtime.turn_options import TurnOptions
from engram.runtime.views import SEND_MESSAGE

if TYPE_CHECKING:
    from engram.jobs import JobQueue

PING_SECONDS = 10.0
"""Quiet time after which a ping goes out, so proxies and clients keep the stream open."""

DONE = "[DONE]"

Event = dict[str, Any] | str
"""A JSON event, or the final ``[DONE]`` marker."""


class StreamDeps(TurnDeps, Protocol):
    """What a streamed turn uses: a turn's parts, and the jobs its task runs among."""

    @property
    def jobs(self) -> JobQueue: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _envelope(
    message_id: str, message_type: str, run_id: str, step_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": message_id,
        "date": _now(),
        "name": None,
        "message_type": message_type,
        "otid": None,
        "sender_id": None,
        "step_id": step_id,
        "is_err": None,
        "seq_id": None,
        "run_id": run_id,
    }


def ping(run_id: str) -> dict[str, Any]:
    return _envelope(new_id("ping"), "ping", run_id)


def stop_reason(reason: str) -> dict[str, Any]:
    return {"message_type": "stop_reason", "stop_reason": reason}


def error_message(run_id: str, error_type: str, message: str) -> dict[str, Any]:
    return {
        "message_type": "error_message",
        "run_id": run_id,
        "error_type": error_type,
        "message": message,
        "detail": message,
    }


@dataclass
class _CallChunks:
    """What is known of one tool call while its pieces arrive."""

    call_id: str | None = None
    name: str | None = None
    announced: bool = False
    held_arguments: list[str] = field(default_factory=list)


class TokenChunks:
    """Provider deltas as Letta message chunks, remembering what went out so the committed
    step does not send it again.

    A ``send_message`` call is held back rather than streamed: it shows as an
    ``assistant_message``, which goes out whole once its step commits.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._step_id: str | None = None
        self._message_id = ""
        self._calls: dict[int, _CallChunks] = {}
        self._reasoning_sent: set[str] = set()
        self._content_sent: dict[str, str] = {}
        self._calls_sent: set[str] = set()

    def start_step(self, step_id: str, message_id: str) -> None:
        self._step_id, self._message_id = step_id, message_id
        self._calls = {}

    def chunks(self, delta: ContentDelta) -> list[dict[str, Any]]:
        if delta.kind == "reasoning":
            self._reasoning_sent.add(self._message_id)
            return [
                self._chunk(
                    "reasoning_message",
                    source="non_reasoner_model",
                    reasoning=delta.text,
                    signature=None,
                )
            ]
        if delta.kind == "content":
            sent = self._content_sent.get(self._message_id, "")
            self._content_sent[self._message_id] = sent + delta.text
            return [self._chunk("assistant_message", content=delta.text)]
        if delta.kind == "tool_call":
            return self._tool_call_chunks(delta)
        return []

    def already_sent(self, view: dict[str, Any]) -> bool:
        """Whether a committed message's view went out as chunks already."""
        kind, message_id = view["message_type"], view["id"]
        if kind == "reasoning_message":
            return message_id in self._reasoning_sent
        if kind == "assistant_message":
            # The text answer, not a send_message call's (which was held back).
            if self._content_sent.get(message_id) == view["content"]:
                del self._content_sent[message_id]
                return True
            return False
        if kind == "tool_call_message":
            return view["tool_call"]["tool_call_id"] in self._calls_sent
        return False

    def _tool_call_chunks(self, delta: ContentDelta) -> list[dict[str, Any]]:
        call = self._calls.setdefault(delta.index, _CallChunks())
        call.call_id = delta.tool_call_id or call.call_id
        call.name = delta.tool_name or call.name
        if call.name == SEND_MESSAGE:
            return []
        out: list[dict[str, Any]] = []
        if delta.text:
            call.held_arguments.append(delta.text)
        if not call.announced and call.call_id and call.name:
            call.announced = True
            self._calls_sent.add(call.call_id)
            out.append(self._call_chunk({"name": call.name, "tool_call_id": call.call_id}))
        if call.announced and call.held_arguments:
            arguments = "".join(call.held_arguments)
            call.held_arguments.clear()
            out.append(self._call_chunk({"arguments": arguments, "tool_call_id": call.call_id}))
        return out

    def _call_chunk(self, part: dict[str, Any]) -> dict[str, Any]:
        # Letta sends a delta as a single object in both fields, not as a list.
        return self._chunk("tool_call_message", tool_call=part, tool_calls=part)

    def _chunk(self, message_type: str, **fields: Any) -> dict[str, Any]:
        return {
            **_envelope(self._message_id, message_type, self.run_id, self._step_id),
            **fields,
        }


@dataclass
class _Finished:
    result: TurnResult | None
    error: BaseException | None = None


class TurnStream:
    """Starts a turn for an already recorded run and hands out its events."""

    def __init__(
        self,
        deps: StreamDeps,
        agent_id: str,
        run_id: str,
        inputs: list[InputMessage],
        *,
        max_steps: int,
        stream_tokens: bool,
        include_pings: bool,
        if_busy: BusyPolicy = "wait",
        ping_seconds: float = PING_SECONDS,
        options: TurnOptions | None = None,
    ) -> None:
        """``if_busy``: what the turn does if another turn of the agent runs when it starts
        (``AgentGate.hold``)."""
        self.run_id = run_id
        self._queue: asyncio.Queue[dict[str, Any] | _Finished] = asyncio.Queue()
        self._listening = True
        self._tokens = TokenChunks(run_id) if stream_tokens else None
        self._include_pings = include_pings
        self._ping_seconds = ping_seconds
        self._numbered = 0
        """Events numbered so far, as ``POST /v1/runs/{run_id}/stream`` numbers them."""
        self._options = options
        turn = self._run(deps, agent_id, inputs, max_steps, if_busy)
        deps.jobs.spawn(turn, name=f"stream:{run_id}")

    async def events(self) -> AsyncIterator[Event]:
        """Every event of the turn, ``[DONE]`` last; stopping early leaves the turn running."""
        try:
            if self._include_pings:
                yield ping(self.run_id)
            while True:
                try:
                    item = await asyncio.wait_for(self._queue.get(), self._ping_seconds)
                except TimeoutError:
                    if self._include_pings:
                        yield ping(self.run_id)
                    continue
                if isinstance(item, _Finished):
                    break
                yield item
            for event in self._closing_events(item):
                yield event
        finally:
            self._listening = False

    async def _run(
        self,
        deps: TurnDeps,
        agent_id: str,
        inputs: list[InputMessage],
        max_steps: int,
        if_busy: BusyPolicy,
    ) -> None:
        tokens = self._tokens
        try:
            result = await run_turn(
                deps,
                agent_id,
                inputs,
                if_busy=if_busy,
                run_id=self.run_id,
                max_steps=max_steps,
                on_message=self._on_message,
                on_event=self._on_event,
                on_delta=self._on_delta if tokens else None,
                on_step=self._on_step if tokens else None,
                options=self._options,
            )
        except BaseException as exc:
            self._put(_Finished(None, exc))
            raise
        self._put(_Finished(result))

    def _put(self, item: dict[str, Any] | _Finished) -> None:
        if self._listening:
            self._queue.put_nowait(item)

    async def _on_step(self, step_id: str, message_id: str) -> None:
        assert self._tokens is not None
        self._tokens.start_step(step_id, message_id)

    async def _on_delta(self, delta: ContentDelta) -> None:
        assert self._tokens is not None
        options = self._options
        for chunk in self._tokens.chunks(delta):
            if options is None or options.shows(chunk["message_type"]):
                # A chunk carries the number of the last whole event before it: resuming
                # after it replays its message whole (ops/run_stream.py keeps no chunks).
                self._put({**chunk, "seq_id": self._numbered})

    async def _on_event(self, view: dict[str, Any]) -> None:
        # Not history: it carries the number of the last message before it, as a token
        # chunk does, and a replay of the run does not show it.
        self._put({**view, "seq_id": self._numbered})

    async def _on_message(self, view: dict[str, Any]) -> None:
        self._numbered += 1
        options = self._options
        if options is not None and not options.shows(view["message_type"]):
            return
        if self._tokens is None or not self._tokens.already_sent(view):
            self._put({**view, "seq_id": self._numbered})

    def _closing_events(self, finished: _Finished) -> list[Event]:
        result, error = finished.result, finished.error
        if result is None:
            if isinstance(error, asyncio.CancelledError):
                text, kind, reason = (
                    "the server stopped before the run ended",
                    "cancelled",
                    "cancelled",
                )
            else:
                detail = str(error) if isinstance(error, EngramError) else "see the server log"
                text, kind, reason = f"the run failed: {detail}", "internal_error", "error"
            return [self._numbered_error(kind, text), stop_reason(reason), DONE]
        events: list[Event] = []
        if result.error:
            events.append(self._numbered_error(result.stop_reason, result.error))
        events += [stop_reason(result.stop_reason), result.usage(), DONE]
        return events

    def _numbered_error(self, error_type: str, text: str) -> dict[str, Any]:
        # Letta numbers an error like a message; a stop reason and usage carry no seq_id.
        self._numbered += 1
        return {**error_message(self.run_id, error_type, text), "seq_id": self._numbered}
