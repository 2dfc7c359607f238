"""Wall time of one sandboxed custom tool call, with bubblewrap and without.

The tool does nearly nothing, so the time is the sandbox's own: starting a fresh Python
child (and bubblewrap's namespaces), passing JSON in and out, and cleaning up.

    python bench/sandbox_overhead.py [calls]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from engram.tools.sandbox import bwrap_path, run_tool

SOURCE = "def echo(text: str) -> str:\n    return text\n"


async def measure(calls: int, use_bwrap: bool) -> list[float]:
    await run_tool(SOURCE, "echo", {"text": "warm"}, use_bwrap=use_bwrap)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        run = await run_tool(SOURCE, "echo", {"text": "hi"}, use_bwrap=use_bwrap)
        times.append((time.perf_counter() - started) * 1000)
        if not run.ok:
            raise SystemExit(f"the tool failed: {run.error}")
    return times


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    modes = [("bwrap", True)] if bwrap_path() else []
    for label, use_bwrap in [*modes, ("limits only", False)]:
        times = sorted(asyncio.run(measure(calls, use_bwrap)))
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(
            f"{label:12} median {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms   "
            f"({calls} calls)"
        )
    if not modes:
        print("bwrap is not installed: only the limits-only sandbox was measured")


if __name__ == "__main__":
    main()
