"""Helpers for the MCP tests: configs for the echo server, running it on a network
transport, registering servers with Engram, and watching the processes Engram starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import free_port

ECHO_SERVER = Path(__file__).resolve().parent / "mcp_echo_server.py"
TOOL_NAMES = ("add", "echo", "whoami", "sleep", "pid", "freeze", "fail")
"""The echo server's tools, before their prefix."""


def unique_prefix() -> str:
    """A tool-name prefix no other test uses: tool names are unique across Engram."""
    return f"t{uuid.uuid4().hex[:6]}_"


def stdio_config(prefix: str, **extra: Any) -> dict[str, Any]:
    return {
        "mcp_server_type": "stdio",
        "command": sys.executable,
        "args": [str(ECHO_SERVER), "stdio", "--prefix", prefix],
        **extra,
    }


@contextmanager
def serve_echo(
    transport: str, prefix: str, require_key: str | None = None, port: int | None = None
) -> Iterator[str]:
    """The echo server on ``http`` (streamable HTTP) or ``sse`` on 127.0.0.1 (on ``port``,
    or a free one), as a real subprocess; yields the URL to register."""
    port = port or free_port()
    command = [sys.executable, str(ECHO_SERVER), transport, "--port", str(port)]
    command += ["--prefix", prefix]
    if require_key is not None:
        command += ["--require-key", require_key]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/{'mcp' if transport == 'http' else 'sse'}"
    finally:
        process.terminate()
        process.wait(10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    # A connect, not a request: an SSE endpoint answers a GET with a stream that never ends.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the echo server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the echo server did not start listening within 20s")


class Registrations:
    """MCP servers registered by one test; ``cleanup`` deletes the ones still there."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api
        self.created: list[str] = []

    def __call__(self, config: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        body = {"server_name": name or f"echo-{uuid.uuid4().hex[:8]}", "config": config}
        response = self.api.post("/v1/mcp-servers/", json=body)
        assert response.status_code == 200, response.text
        self.created.append(response.json()["id"])
        return response.json()

    def cleanup(self) -> None:
        for server_id in self.created:
            self.api.delete(f"/v1/mcp-servers/{server_id}")


def server_tools(api: httpx.Client, server_id: str) -> dict[str, dict[str, Any]]:
    response = api.get(f"/v1/mcp-servers/{server_id}/tools")
    assert response.status_code == 200, response.text
    return {tool["name"]: tool for tool in response.json()}


def attach(api: httpx.Client, agent_id: str, tool_id: str) -> None:
    response = api.patch(f"/v1/agents/{agent_id}/tools/attach/{tool_id}")
    assert response.status_code == 200, response.text


def run_tool(
    api: httpx.Client, server_id: str, tool: str, args: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``POST .../tools/{tool}/run``: Letta's ToolExecutionResult."""
    response = api.post(f"/v1/mcp-servers/{server_id}/tools/{tool}/run", json={"args": args or {}})
    assert response.status_code == 200, response.text
    return response.json()


def is_running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        # Gone before the open, or between the open and the read (the kernel answers ESRCH).
        return False


def wait_until_gone(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not is_running(pid):
            return True
        time.sleep(0.05)
    return False


def kill(pid: int) -> None:
    os.kill(pid, 9)
    assert wait_until_gone(pid, 5)
