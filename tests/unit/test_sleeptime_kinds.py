"""The sleep-time trigger spells the background turn job and the restart error as
background.py does (it cannot import them from there without an import cycle)."""

from __future__ import annotations

from engram.runtime import background, sleeptime


def test_the_trigger_queues_the_background_turn_job() -> None:
    assert sleeptime.AGENT_TURN_JOB == background.AGENT_TURN_JOB
    assert sleeptime.STOPPED_MID_RUN == background.STOPPED_MID_RUN
