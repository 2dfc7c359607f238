"""Wall time of one sandboxed custom tool call in each sandbox mode this machine offers.

The tool does nearly nothing, so the time is the sandbox's own: starting a fresh Python
child (and bubblewrap's or the Landlock confinement's namespaces and mounts), passing JSON
in and out, and cleaning up.

    python bench/sandbox_overhead.py [calls]
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import time

from engram.config import Settings
from engram.tools.confinement import UNCONFINED, SandboxInForce, all_probes, sandbox_in_force
from engram.tools.sandbox import run_tool

SOURCE = "def echo(text: str) -> str:\n    return text\n"


async def measure(
    calls: int, modes: dict[str, SandboxInForce]
) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and CPU milliseconds per call in each mode (CPU: the server's and the child's,
    user and system, which a loaded machine inflates far less than wall time), the modes
    taking turns call by call so that a change in load weighs on all of them alike."""
    times: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label in modes}
    for sandbox in modes.values():
        await run_tool(SOURCE, "echo", {"text": "warm"}, sandbox=sandbox)
    for _ in range(calls):
        for label, sandbox in modes.items():
            cpu, started = _cpu_seconds(), time.perf_counter()
            run = await run_tool(SOURCE, "echo", {"text": "hi"}, sandbox=sandbox)
            times[label][0].append((time.perf_counter() - started) * 1000)
            times[label][1].append((_cpu_seconds() - cpu) * 1000)
            if not run.ok:
                raise SystemExit(f"the tool failed under {label}: {run.error}")
    return times


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    modes: dict[str, SandboxInForce] = {}
    for mode, setting in (("bubblewrap", "bwrap"), ("landlock", "landlock")):
        probe = all_probes(Settings())[mode]
        if probe.available:
            modes[mode] = sandbox_in_force(Settings(sandbox=setting))
        else:
            print(f"{mode} is not available here: {probe.reason}")
    modes["unconfined"] = UNCONFINED
    for label, (wall, cpu) in asyncio.run(measure(calls, modes)).items():
        wall.sort()
        p95 = wall[min(len(wall) - 1, int(len(wall) * 0.95))]
        print(
            f"{label:12} median {statistics.median(wall):6.1f} ms   p95 {p95:6.1f} ms   "
            f"CPU median {statistics.median(cpu):5.1f} ms   ({calls} calls)"
        )


if __name__ == "__main__":
    main()
