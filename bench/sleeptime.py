"""Does a sleep-time agent slow its main agent down, and what does it cost in tokens?

Why: the point of a sleep-time agent is that memory upkeep leaves the user's critical
path. This bench drives a real ``engram serve`` subprocess against the scripted fake LLM
(in this process) and times ``POST /v1/agents/{id}/messages`` of a main agent over
``--turns`` turns, once for an agent without sleep-time and once for one with it
(``sleeptime_agent_frequency`` ``--frequency``), alternating the two agents turn by turn so
that both see the same machine. Every model call answers after ``--llm-delay`` seconds.
The sleep-time agent edits a block (``memory_insert``) and then calls
``memory_finish_edits``, so each of its runs is two model calls, as a real one usually is.

It prints main-agent latency p50/p95 with sleep-time on and off (target: within 10%), and
the tokens of the sleep-time runs (the fake LLM's counts: prompt and completion) per
``--frequency`` turns. Nothing is asserted. From the repository root:

    .venv/bin/python bench/sleeptime.py [--turns 50] [--frequency 5] [--llm-delay 0.05]
        [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `tests.support` and `engram` live in the checkout
    sys.path.insert(0, str(ROOT))

from tests.fakes import FakeLLM, reply  # noqa: E402
from tests.fakes.replies import FakeRequest, Reply  # noqa: E402
from tests.support.server import EngramServer  # noqa: E402

MODEL = "openai/gpt-4o-mini"
TARGET_RATIO = 1.10
SLEEPER_MARK = "You look after the memory of another agent"


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: an observed value."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def fake_llm(delay: float) -> FakeLLM:
    fake = FakeLLM().start()

    def answer(request: FakeRequest) -> Reply:
        if SLEEPER_MARK not in request.system_text:
            return reply.text(f"Noted: {request.last_user_text[:60]}", delay=delay)
        if request.last_role == "tool":
            return reply.tool_call("memory_finish_edits", {}, delay=delay)
        note = f"- noted at {time.time():.0f}"
        return reply.tool_call("memory_insert", {"label": "human", "new_string": note}, delay=delay)

    fake.fallback = answer
    return fake


def make_agent(client: httpx.Client, sleeptime: bool, frequency: int) -> dict[str, Any]:
    agent = client.post(
        "/v1/agents/",
        json={
            "model": MODEL,
            "enable_sleeptime": sleeptime,
            "memory_blocks": [{"label": "human", "value": "", "limit": 200_000}],
        },
    ).json()
    if sleeptime:
        group = agent["multi_agent_group"]["id"]
        client.patch(
            f"/v1/groups/{group}", json={"manager_config": {"sleeptime_agent_frequency": frequency}}
        )
    return dict(agent)


def turn(client: httpx.Client, agent_id: str, number: int) -> float:
    body = {"messages": [{"role": "user", "content": f"Fact {number}: I like item {number}."}]}
    started = time.perf_counter()
    response = client.post(f"/v1/agents/{agent_id}/messages", json=body)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed * 1000


def sleeper_usage(client: httpx.Client, sleeper_id: str) -> tuple[int, int, int, int]:
    """Runs, completed runs, prompt and completion tokens of the sleep-time agent."""
    deadline = time.monotonic() + 60
    while True:
        runs = client.get("/v1/runs/", params={"agent_id": sleeper_id, "limit": 1000}).json()
        if all(run["completed_at"] for run in runs) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    prompt = completion = 0
    for run in runs:
        usage = client.get(f"/v1/runs/{run['id']}/usage").json()
        prompt += usage["prompt_tokens"]
        completion += usage["completion_tokens"]
    done = sum(1 for run in runs if run["status"] == "completed")
    return len(runs), done, prompt, completion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--frequency", type=int, default=5)
    parser.add_argument("--llm-delay", type=float, default=0.05)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    fake = fake_llm(args.llm_delay)
    with tempfile.TemporaryDirectory() as workdir:
        server = EngramServer(
            Path(workdir) / "data",
            fake.base_url,
            {"ENGRAM_WARM_EMBEDDINGS": "false"},
            database_url=args.database_url,
        )
        server.start()
        try:
            with httpx.Client(base_url=server.base_url, timeout=60) as client:
                plain = make_agent(client, False, args.frequency)
                paired = make_agent(client, True, args.frequency)
                for warm in range(3):  # first requests pay one-time costs
                    turn(client, plain["id"], -warm)
                times: dict[str, list[float]] = {"off": [], "on": []}
                for number in range(args.turns):
                    times["off"].append(turn(client, plain["id"], number))
                    times["on"].append(turn(client, paired["id"], number))
                sleeper_id = paired["multi_agent_group"]["agent_ids"][0]
                runs, done, prompt, completion = sleeper_usage(client, sleeper_id)
        finally:
            server.stop()
            fake.stop()

    print(f"main-agent step latency over {args.turns} turns, model delay {args.llm_delay:.3f} s")
    print(f"{'sleep-time':<12}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for name in ("off", "on"):
        values = times[name]
        p50, p95 = percentile(values, 50), percentile(values, 95)
        print(f"{name:<12}{p50:>10.1f}{p95:>10.1f}{statistics.fmean(values):>10.1f}")
    for q in (50, 95):
        ratio = percentile(times["on"], q) / percentile(times["off"], q)
        verdict = "ok" if ratio <= TARGET_RATIO else "over target"
        print(f"p{q} on/off: {ratio:.3f} (target <= {TARGET_RATIO:.2f}: {verdict})")
    per = args.turns / args.frequency
    print(
        f"sleep-time runs: {runs} ({done} completed), tokens {prompt} prompt + {completion} "
        f"completion; per {args.frequency} turns: {prompt / per:.0f} prompt + "
        f"{completion / per:.0f} completion"
    )


if __name__ == "__main__":
    main()
