"""How much time and memory does engram itself add around an LLM call?

Why: with a real model a step costs hundreds of milliseconds of LLM time, so engram's own
share is invisible in normal use; with a fake LLM that answers instantly it is all that is
left.  This bench drives a real ``engram serve`` subprocess (fresh temp data dir) against
the scripted fake OpenAI server (``tests.fakes.fake_llm``, its own subprocess so it does
not share a GIL with the client) and prints one table:

1. cold start (spawn -> ``GET /v1/health/`` 200) on fresh and on existing data dirs;
2. per-step server overhead = client round trip of ``POST /v1/agents/{id}/messages`` minus
   the fake LLM's own time for the same request (see ``LLMTimer``);
3. that overhead as one agent's history grows to ``--history`` messages (bucketed);
4. server RSS: idle, after the throughput run, after the first archival insert (which loads
   the local embedding model) and with the default background warm-up;
5. throughput with ``--clients`` concurrent clients, one agent each.

Targets are printed beside the numbers for comparison; nothing is asserted.  Run it from
the repository root with the project venv:

    .venv/bin/python bench/server_overhead.py [--steps 200] [--history 1000] [--clients 8]
        [--seconds 20] [--json results.json] [--profile /tmp/engram-profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `tests.support` and `engram` live in the checkout
    sys.path.insert(0, str(ROOT))

from tests.support.server import EngramServer  # noqa: E402

MODEL_HANDLE = "openai/gpt-4o-mini"
LLM_MODEL = "gpt-4o-mini"
NO_WARMUP = {"ENGRAM_WARM_EMBEDDINGS": "false"}

# Targets for comparison only (the bench never fails on them).
TARGET_STEP_MEDIAN_MS = 10.0
TARGET_THROUGHPUT = 100.0
TARGET_COLD_START_S = 2.0
TARGET_IDLE_RSS_MIB = 150.0


# --------------------------------------------------------------------------- small helpers


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: an observed value, so p95 of 200 steps is the 190th."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of ``pid`` from /proc (Linux only); NaN elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return math.nan


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all threads) from /proc/<pid>/stat; NaN elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def settled_rss_mib(pid: int, *, quiet_for: float = 1.5, timeout: float = 30.0) -> float:
    """RSS once it stopped growing (background loads such as the embedding warm-up)."""
    last, last_change = rss_mib(pid), time.perf_counter()
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        time.sleep(0.25)
        now = rss_mib(pid)
        if abs(now - last) > 1.0:
            last, last_change = now, time.perf_counter()
        elif time.perf_counter() - last_change >= quiet_for:
            break
    return rss_mib(pid)


def server_pid(server: EngramServer) -> int:
    assert server.process is not None, "server not started"
    return server.process.pid


def say(message: str) -> None:
    """Progress goes to stderr so stdout holds only the table (and JSON if asked)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- fake LLM


class FakeLLMProcess:
    """The fake OpenAI server as a subprocess; its first stdout line is the base URL."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def start(self) -> str:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.fake_llm", "--port", "0", "--mode", "echo"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(
                f"fake LLM did not print its URL (got {line!r}); see {self.log_path}"
            )
        self.base_url = line
        return line

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class LLMTimer:
    """Times the fake LLM alone for the request engram would send for an agent right now.

    The body is rebuilt from ``GET /v1/agents/{id}/context`` (system prompt, core memory,
    tool schemas, the messages in the window, plus one new user message), pre-encoded so
    the bench's own JSON encoding is not counted, and posted straight to the fake over a
    keep-alive connection.  The median of those round trips is what gets subtracted: it is
    the fake's handling time plus one loopback HTTP exchange, the part of a step that a real
    model would replace.  The OpenAI SDK's work inside engram stays on engram's side.
    """

    def __init__(self, llm_base_url: str, repeats: int = 15) -> None:
        self.client = httpx.Client(
            base_url=llm_base_url,
            timeout=30,
            headers={"authorization": "Bearer test-key", "content-type": "application/json"},
        )
        self.repeats = repeats

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def mirror_body(engram: httpx.Client, agent_id: str) -> bytes:
        ctx = engram.get(f"/v1/agents/{agent_id}/context").raise_for_status().json()
        system_parts = [ctx.get("system_prompt") or "", ctx.get("core_memory") or ""]
        if ctx.get("summary_memory"):
            system_parts.append(ctx["summary_memory"])
        messages: list[dict[str, Any]] = [{"role": "system", "content": "\n\n".join(system_parts)}]
        roles = {
            "user_message": "user",
            "assistant_message": "assistant",
            "system_message": "system",
        }
        for view in ctx.get("messages") or []:
            role = roles.get(view.get("message_type", ""))
            if role is not None:
                messages.append({"role": role, "content": view.get("content") or ""})
        messages.append({"role": "user", "content": "benchmark message"})
        tools = [
            {"type": "function", "function": f} for f in ctx.get("functions_definitions") or []
        ]
        body = {"model": LLM_MODEL, "messages": messages, "tools": tools}
        return json.dumps(body).encode()

    def measure(self, engram: httpx.Client, agent_id: str) -> float:
        """Median milliseconds of a direct chat completion with this agent's current body."""
        body = self.mirror_body(engram, agent_id)
        times: list[float] = []
        for i in range(self.repeats + 2):
            started = time.perf_counter()
            response = self.client.post("/chat/completions", content=body)
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if i >= 2:  # first two warm the connection and the fake's code paths
                times.append(elapsed)
        return median(times)


# --------------------------------------------------------------------------- engram calls


def agent_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": MODEL_HANDLE,
        "memory_blocks": [
            {"label": "human", "value": "The user is benchmarking the server."},
            {"label": "persona", "value": "I am a terse assistant used for load tests."},
        ],
    }


def create_agent(client: httpx.Client, name: str) -> dict[str, Any]:
    return client.post("/v1/agents/", json=agent_body(name)).raise_for_status().json()


def message_body(i: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"hello number {i}, how are you today?"}]}


def check_turn(response: httpx.Response) -> dict[str, Any]:
    """A turn must be one plain answer; anything else would skew the per-step numbers."""
    response.raise_for_status()
    data = response.json()
    stop = (data.get("stop_reason") or {}).get("stop_reason")
    if stop != "end_turn":
        raise RuntimeError(f"unexpected stop_reason {stop!r}: {data}")
    return data


@dataclass
class StepSample:
    """One POST /messages: what the client saw, what the server logged, what the LLM took."""

    index: int
    history_before: int
    rtt_ms: float
    step_ms: float
    step_count: int
    llm_ms: float = math.nan

    @property
    def overhead_ms(self) -> float:
        return self.rtt_ms - self.llm_ms

    @property
    def in_step_ms(self) -> float:
        return self.step_ms - self.llm_ms

    @property
    def outside_step_ms(self) -> float:
        return self.rtt_ms - self.step_ms


def recall_count(client: httpx.Client, agent_id: str) -> int:
    ctx = client.get(f"/v1/agents/{agent_id}/context").raise_for_status().json()
    return int(ctx["num_recall_memory"])


def run_sequential(
    client: httpx.Client,
    pid: int,
    agent_id: str,
    steps: int,
    timer: LLMTimer,
    *,
    calibrate_every: int = 50,
    label: str = "",
) -> tuple[list[StepSample], float]:
    """POST ``steps`` messages one after another, timing each; LLM time is interpolated.

    The fake's time grows with the request body, so it is re-measured every
    ``calibrate_every`` steps (between POSTs, never inside a timed one) and linearly
    interpolated for the steps in between.  Also returns the server's CPU milliseconds per
    POST (calibration excluded): if that is close to the overhead, the overhead is compute,
    not waiting.  Step durations are fetched after the loop so the CPU figure is POSTs only.
    """
    start_history = recall_count(client, agent_id)
    calibration: dict[int, float] = {}
    samples: list[StepSample] = []
    run_ids: list[str | None] = []
    excluded_cpu = 0.0
    cpu_started = cpu_seconds(pid)
    for i in range(steps):
        if i % calibrate_every == 0:
            before = cpu_seconds(pid)
            calibration[i] = timer.measure(client, agent_id)
            excluded_cpu += cpu_seconds(pid) - before
        started = time.perf_counter()
        response = client.post(f"/v1/agents/{agent_id}/messages", json=message_body(i))
        rtt = (time.perf_counter() - started) * 1000
        data = check_turn(response)
        run_ids.append(next((m["run_id"] for m in data["messages"] if m.get("run_id")), None))
        samples.append(
            StepSample(
                index=i,
                history_before=start_history + 2 * i,
                rtt_ms=rtt,
                step_ms=math.nan,
                step_count=int(data["usage"].get("step_count") or 0),
            )
        )
        if label and (i + 1) % 100 == 0:
            say(f"  {label}: {i + 1}/{steps} posts")
    cpu_ms_per_post = (cpu_seconds(pid) - cpu_started - excluded_cpu) * 1000 / max(1, steps)
    calibration[steps] = timer.measure(client, agent_id)
    for sample, run_id in zip(samples, run_ids, strict=True):
        if run_id:
            rows = client.get(f"/v1/runs/{run_id}/steps").raise_for_status().json()
            sample.step_ms = sum(float(row.get("duration_ms") or 0.0) for row in rows)
    points = sorted(calibration.items())
    for sample in samples:
        for (i0, v0), (i1, v1) in zip(points, points[1:], strict=False):
            if i0 <= sample.index <= i1:
                sample.llm_ms = v0 + (v1 - v0) * (sample.index - i0) / max(1, i1 - i0)
                break
    return samples, cpu_ms_per_post


def slope_per_100(samples: Sequence[StepSample]) -> float:
    """Least-squares growth of the overhead per 100 messages of history: 0 means flat."""
    if len(samples) < 2:
        return math.nan
    xs = [float(s.history_before) for s in samples]
    ys = [s.overhead_ms for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return math.nan
    return 100 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


def step_stats(samples: Sequence[StepSample]) -> dict[str, float]:
    over = [s.overhead_ms for s in samples]
    return {
        "n": len(samples),
        "rtt_median_ms": median([s.rtt_ms for s in samples]),
        "llm_median_ms": median([s.llm_ms for s in samples]),
        "overhead_median_ms": median(over),
        "overhead_p95_ms": percentile(over, 95),
        "overhead_max_ms": max(over) if over else math.nan,
        "in_step_median_ms": median([s.in_step_ms for s in samples]),
        "outside_step_median_ms": median([s.outside_step_ms for s in samples]),
        "multi_step_turns": sum(1 for s in samples if s.step_count != 1),
    }


async def throughput(
    base_url: str, pid: int, agent_ids: Sequence[str], seconds: float, warmup_posts: int = 3
) -> dict[str, float]:
    """Each client loops POST /messages on its own agent until the deadline."""
    latencies: list[float] = []
    errors = 0

    async def client_loop(agent_id: str, deadline: float, record: bool) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
            i = 0
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(
                    f"/v1/agents/{agent_id}/messages", json=message_body(i)
                )
                elapsed = (time.perf_counter() - started) * 1000
                i += 1
                if not record:
                    continue
                if response.status_code == 200:
                    latencies.append(elapsed)
                else:
                    errors += 1

    async def warm(agent_id: str) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
            for i in range(warmup_posts):
                check_turn(
                    await client.post(f"/v1/agents/{agent_id}/messages", json=message_body(i))
                )

    await asyncio.gather(*(warm(a) for a in agent_ids))
    cpu_started = cpu_seconds(pid)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(client_loop(a, deadline, True) for a in agent_ids))
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_started
    return {
        "clients": len(agent_ids),
        "seconds": elapsed,
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": len(latencies) / elapsed,
        "latency_median_ms": median(latencies),
        "latency_p95_ms": percentile(latencies, 95),
        "server_cpu_ms_per_request": cpu * 1000 / max(1, len(latencies)),
        "server_cpu_utilisation": cpu / elapsed,
    }


# --------------------------------------------------------------------------- profiling


@contextmanager
def py_spy(pid: int, out_dir: Path | None, name: str) -> Iterator[Path | None]:
    """Sample the server with py-spy (collapsed stacks) while the block runs, if asked."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if out_dir is None:
        yield None
        return
    if not Path(exe).exists():
        say("py-spy not found (pip install py-spy); not profiling")
        yield None
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}.txt"
    proc = subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--gil",  # only the thread holding the GIL: the server's one-core budget
            "--nonblocking",  # do not pause the server to sample it
            "--rate",
            "200",
            "--format",
            "raw",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(out_dir / f"{name}.log").open("wb"),
    )
    time.sleep(1.0)  # let it attach before the measured work starts
    try:
        yield out
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def summarize_profile(path: Path, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares per function, and inclusive shares for engram functions."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";")[1:] if f]  # first element is the thread
        if not frames:
            continue
        total += count
        self_counts[_frame_name(frames[-1])] += count
        packages[_package_of(frames)] += count
        for name in {_frame_name(f) for f in frames}:
            inclusive[name] += count
    if total == 0:
        return {"samples": 0}

    def share(counter: Counter[str], keep: Callable[[str], bool]) -> list[tuple[str, float]]:
        rows = [(k, v / total * 100) for k, v in counter.most_common() if keep(k)]
        return rows[:top]

    entry = ("<module> (engram/__main__.py)", "serve (engram/cli.py)")
    return {
        "samples": total,
        "by_package": share(packages, lambda _k: True),
        "engram_inclusive_top": share(inclusive, lambda k: "engram/" in k and k not in entry),
        "self_top": share(self_counts, lambda _k: True),
    }


def _package_of(frames: Sequence[str]) -> str:
    """Who is burning the sample: the leaf's top-level package or stdlib module.

    py-spy already shortens paths to be relative to their sys.path entry, so the first
    path component is the package (``sqlalchemy/orm/loading.py`` -> ``sqlalchemy``).
    """
    where = _frame_name(frames[-1]).partition(" (")[2].rstrip(")")
    if where.startswith("<"):
        return "stdlib (frozen)"
    return where.split("/", 1)[0].removesuffix(".py")


def _frame_name(frame: str) -> str:
    """``func (pkg/file.py:123)`` -> ``func (pkg/file.py)``: aggregate over lines."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    if "site-packages/" in where:  # in case a path comes through unshortened
        where = where.split("site-packages/", 1)[1]
    return f"{name} ({where})"


# --------------------------------------------------------------------------- the bench


def cold_starts(
    base: Path,
    llm_url: str,
    count: int,
    *,
    existing_dir: Path | None = None,
    env: dict[str, str] | None = None,
    tag: str = "fresh",
) -> list[float]:
    """Spawn -> healthy seconds; each start on a new dir, or all on ``existing_dir``."""
    times: list[float] = []
    for i in range(count):
        data_dir = existing_dir or base / f"{tag}-{i}"
        server = EngramServer(data_dir, llm_url, extra_env=env)
        try:
            times.append(server.start(timeout=60))
        finally:
            server.stop()
    return times


def spawn_seconds(code: str, count: int) -> float:
    """Median seconds to run ``python -c code``: splits cold start into interpreter + imports."""
    times: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        times.append(time.perf_counter() - started)
    return median(times)


def default_warm_rss(base: Path, llm_url: str) -> dict[str, float]:
    """RSS with default settings: right at healthy, and after the background warm-up."""
    server = EngramServer(base / "warm-rss", llm_url)
    try:
        server.start(timeout=60)
        pid = server_pid(server)
        at_healthy = rss_mib(pid)
        settled = settled_rss_mib(pid, quiet_for=2.0, timeout=60)
        return {"at_healthy_mib": at_healthy, "after_warmup_mib": settled}
    finally:
        server.stop()


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"config": vars(args) | {"cpus": os.cpu_count()}}
    fake = FakeLLMProcess(workdir / "fake_llm.log")
    llm_url = fake.start()
    say(f"fake LLM at {llm_url}")
    timer = LLMTimer(llm_url)
    profile_dir = Path(args.profile) if args.profile else None
    try:
        say(f"cold start x{args.starts} on fresh data dirs ...")
        results["cold_start_fresh_s"] = cold_starts(workdir, llm_url, args.starts)
        results["cold_start_fresh_no_warmup_s"] = cold_starts(
            workdir, llm_url, args.starts, env=NO_WARMUP, tag="cold"
        )
        results["spawn_python_s"] = spawn_seconds("pass", args.starts)
        results["spawn_import_app_s"] = spawn_seconds("import engram.api.app, uvicorn", args.starts)
        say("RSS with the default embedding warm-up ...")
        results["rss_default_warmup"] = default_warm_rss(workdir, llm_url)

        main_dir = workdir / "main"
        server = EngramServer(main_dir, llm_url, extra_env=NO_WARMUP)
        server.start(timeout=60)
        pid = server_pid(server)
        time.sleep(1.0)
        results["rss_idle_mib"] = rss_mib(pid)
        try:
            with server.client() as client:
                results.update(main_phases(args, server, client, timer, profile_dir, workdir))
        finally:
            server.stop()

        say(f"cold start x{args.starts} on the existing data dir ...")
        results["cold_start_existing_s"] = cold_starts(
            workdir, llm_url, args.starts, existing_dir=main_dir
        )
    finally:
        timer.close()
        fake.stop()
    return results


def main_phases(
    args: argparse.Namespace,
    server: EngramServer,
    client: httpx.Client,
    timer: LLMTimer,
    profile_dir: Path | None,
    workdir: Path,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pid = server_pid(server)

    say(f"per-step overhead: {args.warmup} warm-up + {args.steps} steps on one agent ...")
    agent = create_agent(client, "bench-steps")
    out["context_window"] = agent.get("llm_config", {}).get("context_window")
    for i in range(args.warmup):
        check_turn(client.post(f"/v1/agents/{agent['id']}/messages", json=message_body(i)))
    with py_spy(pid, profile_dir, "steps") as prof:
        samples, cpu_ms = run_sequential(client, pid, agent["id"], args.steps, timer, label="steps")
    out["steps"] = step_stats(samples) | {"server_cpu_ms_per_post": cpu_ms}
    if prof is not None and prof.exists():
        out["profile_steps"] = summarize_profile(prof) | {"file": str(prof)}

    posts = args.history // 2
    say(f"history growth: {posts} posts ({args.history} messages) on a fresh agent ...")
    agent_h = create_agent(client, "bench-history")
    with py_spy(pid, profile_dir, "history") as prof:
        hist, _ = run_sequential(
            client,
            pid,
            agent_h["id"],
            posts,
            timer,
            calibrate_every=max(10, posts // 20),
            label="history",
        )
    if prof is not None and prof.exists():
        out["profile_history"] = summarize_profile(prof) | {"file": str(prof)}
    buckets: list[dict[str, Any]] = []
    for lo_frac, hi_frac in ((0.0, 0.1), (0.4, 0.5), (0.9, 1.0)):
        lo, hi = int(args.history * lo_frac), int(args.history * hi_frac)
        chosen = [s for s in hist if lo <= s.history_before < hi]
        buckets.append({"from": lo, "to": hi, **step_stats(chosen)})
    out["history_buckets"] = buckets
    out["history_slope_ms_per_100_messages"] = slope_per_100(hist)
    ctx = client.get(f"/v1/agents/{agent_h['id']}/context").raise_for_status().json()
    out["history_end"] = {
        "messages_in_window": ctx["num_messages"],
        "messages_in_recall": ctx["num_recall_memory"],
        "context_tokens": ctx["context_window_size_current"],
        "context_window": ctx["context_window_size_max"],
        "summarized": bool(ctx.get("summary_memory")),
    }

    say(f"throughput: {args.clients} clients x {args.seconds:.0f} s ...")
    agents = [create_agent(client, f"bench-tp-{i}")["id"] for i in range(args.clients)]
    with py_spy(pid, profile_dir, "throughput") as prof:
        out["throughput"] = asyncio.run(throughput(server.base_url, pid, agents, args.seconds))
    if prof is not None and prof.exists():
        out["profile_throughput"] = summarize_profile(prof) | {"file": str(prof)}
    out["rss_loaded_mib"] = rss_mib(pid)
    out["rss_peak_mib"] = rss_mib(pid, "VmHWM")

    say("archival insert (loads the local embedding model) ...")
    started = time.perf_counter()
    client.post(
        f"/v1/agents/{agent['id']}/archival-memory",
        json={"text": "The user likes long walks and short benchmarks."},
    ).raise_for_status()
    first_insert = (time.perf_counter() - started) * 1000
    later: list[float] = []
    for i in range(5):
        started = time.perf_counter()
        client.post(
            f"/v1/agents/{agent['id']}/archival-memory", json={"text": f"fact number {i}"}
        ).raise_for_status()
        later.append((time.perf_counter() - started) * 1000)
    out["archival"] = {
        "first_insert_ms": first_insert,
        "next_insert_median_ms": median(later),
        "rss_after_mib": settled_rss_mib(pid),
    }
    return out


# --------------------------------------------------------------------------- report


def fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str]] = []

    def row(name: str, value: str, target: str = "") -> None:
        rows.append((name, value, target))

    fresh = results["cold_start_fresh_s"]
    existing = results["cold_start_existing_s"]
    no_warm = results["cold_start_fresh_no_warmup_s"]
    row(
        "cold start, fresh dir (median)",
        f"{fmt(median(fresh), ' s', 2)}  [{', '.join(fmt(t, '', 2) for t in fresh)}]",
        f"< {TARGET_COLD_START_S:.0f} s  {verdict(median(fresh) < TARGET_COLD_START_S)}",
    )
    row(
        "cold start, existing dir (median)",
        f"{fmt(median(existing), ' s', 2)}  [{', '.join(fmt(t, '', 2) for t in existing)}]",
        f"< {TARGET_COLD_START_S:.0f} s  {verdict(median(existing) < TARGET_COLD_START_S)}",
    )
    row(
        "  same, embedding warm-up off",
        f"{fmt(median(no_warm), ' s', 2)}  [{', '.join(fmt(t, '', 2) for t in no_warm)}]",
    )
    row(
        "  of which: python / + imports",
        f"{fmt(results['spawn_python_s'], ' s', 2)} / {fmt(results['spawn_import_app_s'], ' s', 2)}"
        " (python -c; rest is app start: migrations, seeding, uvicorn)",
    )
    s = results["steps"]
    row(
        f"step overhead median ({s['n']} steps)",
        fmt(s["overhead_median_ms"], " ms", 2),
        f"< {TARGET_STEP_MEDIAN_MS:.0f} ms  "
        f"{verdict(s['overhead_median_ms'] < TARGET_STEP_MEDIAN_MS)}",
    )
    row(
        "step overhead p95 / max",
        f"{fmt(s['overhead_p95_ms'], ' ms', 2)} / {fmt(s['overhead_max_ms'], ' ms', 2)}",
    )
    row("  client round trip median", fmt(s["rtt_median_ms"], " ms", 2))
    row("  fake LLM alone median (subtracted)", fmt(s["llm_median_ms"], " ms", 2))
    row("  inside step (step duration - LLM)", fmt(s["in_step_median_ms"], " ms", 2))
    row("  outside step (HTTP, run bookkeeping)", fmt(s["outside_step_median_ms"], " ms", 2))
    row("  server CPU per POST (all threads)", fmt(s["server_cpu_ms_per_post"], " ms", 2))
    buckets = results["history_buckets"]
    for b in buckets:
        row(
            f"history {b['from']}-{b['to']} msgs: overhead med/p95",
            f"{fmt(b['overhead_median_ms'], '', 2)} / {fmt(b['overhead_p95_ms'], ' ms', 2)}"
            f"  (rtt {fmt(b['rtt_median_ms'], '', 1)}, llm {fmt(b['llm_median_ms'], ' ms', 1)})",
        )
    first, last = buckets[0]["overhead_median_ms"], buckets[-1]["overhead_median_ms"]
    growth = last / first if first > 0 else math.nan
    row(
        "history growth: last / first bucket",
        fmt(growth, "x", 2),
        f"~1.0x (flat)  {verdict(growth < 1.5)}",
    )
    row(
        "history growth: least-squares slope",
        fmt(results["history_slope_ms_per_100_messages"], " ms per 100 messages", 2),
    )
    end = results["history_end"]
    row(
        "history end: window / recall msgs",
        f"{end['messages_in_window']} / {end['messages_in_recall']}, "
        f"{end['context_tokens']} of {end['context_window']} tokens"
        + (", SUMMARIZED" if end["summarized"] else ", no summarization"),
    )
    tp = results["throughput"]
    row(
        f"throughput, {tp['clients']} clients x {tp['seconds']:.0f} s",
        f"{fmt(tp['requests_per_s'], ' msg/s')}  ({tp['requests']} ok, {tp['errors']} errors)",
        f">= {TARGET_THROUGHPUT:.0f} msg/s  {verdict(tp['requests_per_s'] >= TARGET_THROUGHPUT)}",
    )
    row(
        "  latency median / p95",
        f"{fmt(tp['latency_median_ms'], '', 1)} / {fmt(tp['latency_p95_ms'], ' ms', 1)}",
    )
    row(
        "  server CPU per request / utilisation",
        f"{fmt(tp['server_cpu_ms_per_request'], ' ms', 2)} / "
        f"{fmt(tp['server_cpu_utilisation'] * 100, '% of one core', 0)}",
    )
    idle = results["rss_idle_mib"]
    row(
        "RSS idle (no embedding warm-up)",
        fmt(idle, " MiB"),
        f"< {TARGET_IDLE_RSS_MIB:.0f} MiB  {verdict(idle < TARGET_IDLE_RSS_MIB)}",
    )
    row(
        "RSS after throughput (current / peak)",
        f"{fmt(results['rss_loaded_mib'], '')} / {fmt(results['rss_peak_mib'], ' MiB')}",
    )
    arch = results["archival"]
    row("RSS after first archival insert", fmt(arch["rss_after_mib"], " MiB"))
    row(
        "  first insert (model load) / next",
        f"{fmt(arch['first_insert_ms'], '', 0)} / {fmt(arch['next_insert_median_ms'], ' ms', 1)}",
    )
    warm = results["rss_default_warmup"]
    row(
        "RSS default config: healthy / warmed",
        f"{fmt(warm['at_healthy_mib'], '')} / {fmt(warm['after_warmup_mib'], ' MiB')}",
    )

    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{'measure':<{width[0]}}  {'value':<{width[1]}}  target", "-" * (sum(width) + 10)]
    lines += [f"{a:<{width[0]}}  {b:<{width[1]}}  {c}".rstrip() for a, b, c in rows]
    cfg = results["config"]
    lines.append("")
    lines.append(
        f"{cfg['cpus']} CPUs; client, fake LLM and server are separate processes on this machine; "
        f"context window of {LLM_MODEL}: {results.get('context_window')}"
    )
    for key in ("profile_steps", "profile_history", "profile_throughput"):
        prof = results.get(key)
        if not prof or not prof.get("samples"):
            continue
        lines.append("")
        lines.append(f"{key} ({prof['samples']} samples, {prof['file']}):")
        lines.append("  GIL-holding samples by package of the innermost frame:")
        lines += [f"    {share:5.1f}%  {name}" for name, share in prof["by_package"][:10]]
        lines.append("  engram functions, inclusive share:")
        lines += [f"    {share:5.1f}%  {name}" for name, share in prof["engram_inclusive_top"]]
        lines.append("  any function, self share:")
        lines += [f"    {share:5.1f}%  {name}" for name, share in prof["self_top"]]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=200, help="timed steps on one agent")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps before those")
    parser.add_argument("--history", type=int, default=1000, help="messages to grow one agent to")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients, one agent each")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the throughput run")
    parser.add_argument("--starts", type=int, default=3, help="cold starts per kind")
    parser.add_argument("--json", metavar="PATH", help="also write results as JSON ('-' = stdout)")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy the server during the step, history and throughput runs",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp data dirs and logs")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="engram-bench-"))
    try:
        results = run(args, workdir)
    except Exception:
        say(f"bench failed; logs are in {workdir}")
        raise
    print(report(results))
    if args.json:
        text = json.dumps(results, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    if args.keep:
        say(f"data dirs and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
