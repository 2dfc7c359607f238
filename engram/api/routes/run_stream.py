"""``POST /v1/runs/{run_id}/stream``: reattach to a run's stream, from its start or from
the event after ``starting_after``, and follow it until the run ends (ops/run_stream.py)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from engram.api.deps import Runtime
from engram.api.routes.streaming import SSE_HEADERS, _server_sent
from engram.api.stream_requests import RetrieveStream
from engram.ops.run_stream import check_run, follow_run

router = APIRouter(tags=["runs"])


@router.post("/v1/runs/{run_id}/stream")
async def retrieve_run_stream(
    run_id: str, rt: Runtime, body: RetrieveStream | None = None
) -> StreamingResponse:
    """The run's events so far, then live until it ends. An unknown run (404) and bad
    options (422) are refused before the stream begins."""
    request = (body or RetrieveStream()).to_op(run_id)
    await check_run(rt, run_id, request)
    return StreamingResponse(
        _server_sent(follow_run(rt, run_id, request)),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
