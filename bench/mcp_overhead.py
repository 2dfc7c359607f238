"""Wall time of one MCP tool call to a stdio server: a session per call versus a live one.

The server is the tests' echo server (tests/support/mcp_echo_server.py) and the tool
returns its argument, so the time is the transport's own. "per call" opens a session
for every call, as Engram did before sessions were kept: a process start, the server's
imports and the MCP handshake each time. "live session" reuses one session, as Engram
does for registered servers. Also shown: the same for the SSE transport, against the echo
server run by this script on 127.0.0.1.

    python bench/mcp_overhead.py [calls]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engram.mcp import McpResult, McpSessions, ServerConfig, call_tool
from tests.support.mcp_servers import ECHO_SERVER, serve_echo

STDIO = ServerConfig(
    name="bench-stdio",
    server_type="stdio",
    command=sys.executable,
    args=[str(ECHO_SERVER), "stdio"],
)


async def timed(calls: int, call: Callable[[], Awaitable[McpResult]]) -> list[float]:
    await call()  # warm: imports on our side, and the first session for the live case
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        result = await call()
        times.append((time.perf_counter() - started) * 1000)
        if result.is_error or result.text != "hi":
            raise SystemExit(f"the tool failed: {result.text}")
    return sorted(times)


async def per_call(config: ServerConfig, calls: int) -> list[float]:
    return await timed(calls, lambda: call_tool(config, "echo", {"text": "hi"}))


async def live(config: ServerConfig, calls: int) -> list[float]:
    sessions = McpSessions()
    try:
        return await timed(calls, lambda: sessions.call_tool("s", config, "echo", {"text": "hi"}))
    finally:
        await sessions.close_all()


def report(label: str, times: list[float]) -> None:
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(
        f"{label:26} median {statistics.median(times):8.1f} ms   p95 {p95:8.1f} ms   "
        f"({len(times)} calls)"
    )


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    report("stdio, session per call", asyncio.run(per_call(STDIO, max(5, calls // 3))))
    report("stdio, live session", asyncio.run(live(STDIO, calls * 10)))
    with serve_echo("sse", "") as url:
        sse = ServerConfig(name="bench-sse", server_type="sse", url=url)
        report("sse, session per call", asyncio.run(per_call(sse, calls)))
        report("sse, live session", asyncio.run(live(sse, calls * 10)))


if __name__ == "__main__":
    main()
