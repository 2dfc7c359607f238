"""Throughput of 8 conversations of one agent against 8 separate agents.

Conversations of one agent run at the same time (each has its own lane of the agent
gate), so a server should serve N conversations of one agent about as fast as N agents.
This bench starts the fake OpenAI server (``tests.fakes.fake_llm --mode echo``, with
``--latency`` seconds per answer) and a real ``engram serve`` (SQLite in a temporary data
dir, or ``--database-url``), then runs the same load twice: ``--clients`` clients, each
looping turns on its own conversation of one shared agent, then on its own agent, for
``--seconds`` each. It prints turns per second and latencies for both, and their ratio
(the target: conversations within 20 % of agents).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `tests` and `engram` live in the checkout
    sys.path.insert(0, str(ROOT))

from bench.server_overhead import FakeLLMProcess  # noqa: E402
from tests.support.server import EngramServer  # noqa: E402

MODEL_HANDLE = "openai/gpt-4o-mini"
TARGET_RATIO = 0.8


def agent_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": MODEL_HANDLE,
        "memory_blocks": [{"label": "human", "value": "The user is benchmarking."}],
    }


def turn_body(i: int) -> dict[str, Any]:
    return {"input": f"hello number {i}, how are you today?", "streaming": False}


async def load(base_url: str, paths: Sequence[str], seconds: float) -> dict[str, float]:
    """Each client loops POST on its own path until the deadline (after 2 warm-up turns)."""
    latencies: list[float] = []
    errors = 0

    async def client_loop(path: str, deadline: float | None, warmup: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
            i = 0
            while (deadline is None and i < warmup) or (
                deadline is not None and time.perf_counter() < deadline
            ):
                started = time.perf_counter()
                response = await client.post(path, json=turn_body(i))
                i += 1
                if deadline is None:
                    response.raise_for_status()
                elif response.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

    await asyncio.gather(*(client_loop(path, None, 2) for path in paths))
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(client_loop(path, deadline, 0) for path in paths))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    return {
        "turns": len(latencies),
        "errors": errors,
        "turns_per_s": len(latencies) / elapsed,
        "latency_median_ms": statistics.median(ordered),
        "latency_p95_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
    }


def prepare(server: EngramServer, clients: int) -> tuple[list[str], list[str]]:
    """Paths of ``clients`` conversations of one agent, and of ``clients`` agents."""
    with server.client() as http:
        shared = http.post("/v1/agents/", json=agent_body("shared")).raise_for_status().json()
        conversations = [
            http.post("/v1/conversations/", params={"agent_id": shared["id"]})
            .raise_for_status()
            .json()["id"]
            for _ in range(clients)
        ]
        agents = [
            http.post("/v1/agents/", json=agent_body(f"solo-{n}")).raise_for_status().json()["id"]
            for n in range(clients)
        ]
    return (
        [f"/v1/conversations/{conv}/messages" for conv in conversations],
        [f"/v1/agents/{agent}/messages" for agent in agents],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--latency", type=float, default=0.05, help="fake model seconds")
    parser.add_argument("--database-url", default=None, help="PostgreSQL; default SQLite")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="engram-bench-conv-") as tmp:
        base = Path(tmp)
        llm = FakeLLMProcessWithLatency(base / "fake-llm.log", args.latency)
        llm_url = llm.start()
        server = EngramServer(
            base / "data",
            llm_url,
            {"ENGRAM_WARM_EMBEDDINGS": "false"},
            database_url=args.database_url,
        )
        try:
            server.start(timeout=60)
            conversation_paths, agent_paths = prepare(server, args.clients)
            conv = asyncio.run(load(server.base_url, conversation_paths, args.seconds))
            solo = asyncio.run(load(server.base_url, agent_paths, args.seconds))
        finally:
            server.stop()
            llm.stop()
    ratio = conv["turns_per_s"] / solo["turns_per_s"] if solo["turns_per_s"] else 0.0
    backend = "postgresql" if args.database_url else "sqlite"
    print(f"{args.clients} clients, {args.seconds:g} s each, fake model {args.latency:g} s")
    print(f"database: {backend}")
    print(f"{'load':<32}{'turns/s':>10}{'median ms':>12}{'p95 ms':>10}{'errors':>8}")
    for name, row in (
        (f"{args.clients} conversations, 1 agent", conv),
        (f"{args.clients} agents", solo),
    ):
        print(
            f"{name:<32}{row['turns_per_s']:>10.1f}{row['latency_median_ms']:>12.1f}"
            f"{row['latency_p95_ms']:>10.1f}{row['errors']:>8.0f}"
        )
    print(f"conversations / agents: {ratio:.2f} (target >= {TARGET_RATIO:.2f})")
    if args.json is not None:
        args.json.write_text(
            json.dumps({"conversations": conv, "agents": solo, "ratio": ratio}, indent=2)
        )


class FakeLLMProcessWithLatency(FakeLLMProcess):
    """The fake OpenAI server answering each chat call after ``latency`` seconds."""

    def __init__(self, log_path: Path, latency: float) -> None:
        super().__init__(log_path)
        self.latency = latency

    def start(self) -> str:
        import subprocess

        log = self.log_path.open("ab")
        command = [sys.executable, "-m", "tests.fakes.fake_llm", "--port", "0"]
        command += ["--mode", "echo", "--latency", str(self.latency)]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self.stop()
            raise RuntimeError(f"fake LLM did not print its URL; see {self.log_path}")
        return self.base_url


if __name__ == "__main__":
    main()
