"""Streaming messages as server-sent events, background runs and cancellation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from engram.api import serialize
from engram.api.deps import IfBusy, Runtime
from engram.api.schemas import CancelRuns, SendMessages
from engram.api.turns import (
    open_turn_stream,
    queue_turn,
    turn_options,
)
from engram.runtime.agent_gate import BusyPolicy
from engram.runtime.runs import cancel_runs
from engram.runtime.streaming import Event, StreamDeps

router = APIRouter(prefix="/v1/agents/{agent_id}/messages", tags=["messages"])

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@router.post("/stream")
async def stream_messages(
    agent_id: str, body: SendMessages, rt: Runtime, if_busy: IfBusy
) -> StreamingResponse:
    return await stream_reply(rt, agent_id, body, if_busy)


async def stream_reply(
    deps: StreamDeps,
    agent_id: str,
    body: SendMessages,
    if_busy: BusyPolicy = "wait",
    conversation_id: str | None = None,
) -> StreamingResponse:
    """Start the turn and answer with its events. Bad input, unknown agents and (with
    ``if_busy=reject``) a busy agent are refused with a plain 4xx before the run is
    recorded or the stream begins. ``conversation_id``: the conversation the turn runs in."""
    options = replace(await turn_options(deps, body), conversation_id=conversation_id)
    stream = await open_turn_stream(deps, agent_id, body, if_busy, options)
    return StreamingResponse(
        _server_sent(stream.events()), media_type="text/event-stream", headers=SSE_HEADERS
    )


async def _server_sent(events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    async for event in events:
        data = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
        yield f"data: {data}\n\n".encode()


@router.post("/async")
async def send_messages_async(
    agent_id: str, body: SendMessages, rt: Runtime, if_busy: IfBusy
) -> dict[str, Any]:
    """Record a run, queue its turn, and answer with the run at once; poll GET /v1/runs/{id}.
    The queued turn waits for a busy agent; ``if_busy=reject`` refuses one up front."""
    options = await turn_options(rt, body)
    run = await queue_turn(rt, agent_id, body, if_busy, options)
    return serialize.run(run)


@router.post("/cancel")
async def cancel_messages(
    agent_id: str, rt: Runtime, body: CancelRuns | None = None
) -> dict[str, str]:
    """Cancel the agent's active runs (or the ``run_ids`` given): run id -> status after."""
    return await cancel_runs(rt, agent_id, body.run_ids if body else None)
