"""A small MCP server for the tests, on stdio, streamable HTTP or SSE.

    python -m tests.support.mcp_echo_server stdio [--prefix p_]
    python -m tests.support.mcp_echo_server http --port 8765 [--prefix p_]
    python -m tests.support.mcp_echo_server sse --port 8765 [--prefix p_]

``--prefix`` goes before every tool name, so that several copies can be registered with
one Engram server (tool names are unique there). On HTTP and SSE, a request must carry the
header ``X-Test-Key: <value of --require-key>`` when that option is given.

``pid`` tells which process answered (so tests can see a session reused or replaced), and
``freeze`` blocks the whole server, not just one call: it is a server that hangs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from mcp.server.fastmcp import FastMCP


def build(prefix: str) -> FastMCP:
    server = FastMCP("echo", log_level="WARNING")

    @server.tool(name=f"{prefix}add", description="Add two integers.")
    def add(a: int, b: int) -> str:
        return str(a + b)

    @server.tool(name=f"{prefix}echo", description="Return the text unchanged.")
    def echo(text: str) -> str:
        return text

    @server.tool(name=f"{prefix}whoami", description="The value of ECHO_IDENTITY.")
    def whoami() -> str:
        return os.environ.get("ECHO_IDENTITY", "nobody")

    @server.tool(name=f"{prefix}sleep", description="Sleep, then answer.")
    async def sleep(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return f"slept {seconds}s"

    @server.tool(name=f"{prefix}pid", description="The id of the server's process.")
    def pid() -> str:
        return str(os.getpid())

    @server.tool(name=f"{prefix}freeze", description="Block the whole server for a while.")
    def freeze(seconds: float) -> str:
        time.sleep(seconds)  # synchronous on purpose: nothing else is served meanwhile
        return f"froze {seconds}s"

    @server.tool(name=f"{prefix}fail", description="Always fails.")
    def fail(reason: str) -> str:
        raise ValueError(f"failed on purpose: {reason}")

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http", "sse"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--require-key", default=None)
    options = parser.parse_args()
    server = build(options.prefix)
    if options.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    app = server.streamable_http_app() if options.transport == "http" else server.sse_app()
    if options.require_key is not None:
        app.add_middleware(_KeyCheck, key=options.require_key)
    uvicorn.run(app, host="127.0.0.1", port=options.port, log_level="warning")


class _KeyCheck:
    def __init__(self, app, key: str) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "http" and dict(scope["headers"]).get(b"x-test-key") != self.key:
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"missing X-Test-Key"})
            return
        await self.app(scope, receive, send)


if __name__ == "__main__":
    main()
