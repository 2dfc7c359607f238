"""Turns that run in the background: the request gets the run at once and polls it."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from typing import Any

from engram.runtime.agent_gate import IF_BUSY
from engram.runtime.engine import Engram
from engram.runtime.runs import create_run
from engram.runtime.step import InputMessage, run_turn
from engram.store import tables as t

AGENT_TURN_JOB = "agent_turn"
"""The job that runs one turn for a run made by ``start_background_turn``."""


async def start_background_turn(
    rt: Engram,
    agent_id: str,
    inputs: list[InputMessage],
    *,
    max_steps: int,
    request_config: dict[str, Any] | None = None,
) -> t.Run:
    """Record a run and queue its turn; returns the run as created, before any step.
    Raises NotFound for an unknown agent, having recorded nothing."""
    run = await create_run(rt, agent_id, background=True, request_config=request_config)
    payload = {
        "agent_id": agent_id,
        "run_id": run.id,
        "max_steps": max_steps,
        "inputs": [asdict(item) for item in inputs],
    }
    await rt.jobs.enqueue(AGENT_TURN_JOB, payload)
    return run


def register_jobs(rt: Engram) -> None:
    """Tell ``rt.jobs`` how to run the runtime's background jobs; called once at start."""
    rt.jobs.register(AGENT_TURN_JOB, partial(_agent_turn, rt))


async def _agent_turn(rt: Engram, payload: dict[str, Any]) -> None:
    inputs = [InputMessage(**item) for item in payload["inputs"]]
    # The client already has its run: a queued turn waits its agent's turn, whatever the
    # request that queued it asked of a busy agent.
    IF_BUSY.set("wait")
    await run_turn(
        rt, payload["agent_id"], inputs, run_id=payload["run_id"], max_steps=payload["max_steps"]
    )
