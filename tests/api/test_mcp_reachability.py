"""MCP servers that cannot be reached when registered are kept, and get their tools when
they answer; two servers offering one tool name both keep their tool.

The unreachable server is a URL on a closed loopback port; the test then starts the echo
server (tests/support/mcp_echo_server.py) on that very port.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, send_input
from tests.fakes import FakeLLM, reply
from tests.support.mcp_servers import (
    Registrations,
    attach,
    run_tool,
    serve_echo,
    server_tools,
    stdio_config,
    unique_prefix,
)
from tests.support.server import free_port


@pytest.fixture
def register(api: httpx.Client) -> Iterator[Registrations]:
    registrations = Registrations(api)
    yield registrations
    registrations.cleanup()


def _closed_port_config(port: int) -> dict[str, Any]:
    return {
        "mcp_server_type": "streamable_http",
        "server_url": f"http://127.0.0.1:{port}/mcp",
        "timeout_seconds": 5,
    }


def test_an_unreachable_server_is_stored_then_synced_when_its_tools_are_listed(
    api: httpx.Client, register: Registrations
) -> None:
    prefix, port = unique_prefix(), free_port()
    server = register(_closed_port_config(port))

    assert server["reachable"] is False and server["last_error"]
    assert server["last_synced_at"] is None
    assert server_tools(api, server["id"]) == {}
    assert api.get(f"/v1/mcp-servers/{server['id']}").json()["reachable"] is False

    with serve_echo("http", prefix, port=port):
        tools = server_tools(api, server["id"])
        shown = api.get(f"/v1/mcp-servers/{server['id']}").json()

    assert f"{prefix}add" in tools
    assert shown["reachable"] is True and shown["last_error"] is None
    assert shown["last_synced_at"] is not None


def test_refresh_retries_an_unreachable_server(api: httpx.Client, register: Registrations) -> None:
    prefix, port = unique_prefix(), free_port()
    server = register(_closed_port_config(port))

    down = api.patch(f"/v1/mcp-servers/{server['id']}/refresh")
    with serve_echo("http", prefix, port=port):
        up = api.patch(f"/v1/mcp-servers/{server['id']}/refresh")
        ran = run_tool(api, server["id"], f"{prefix}add", {"a": 1, "b": 2})

    assert down.status_code == 502
    assert str(port) in down.json()["detail"]
    assert up.status_code == 200, up.text
    assert f"{prefix}add" in up.json()["added"]
    assert ran["status"] == "success" and ran["func_return"] == "3"


def test_running_a_tool_of_a_server_still_down_is_an_error_result(
    api: httpx.Client, register: Registrations
) -> None:
    server = register(_closed_port_config(free_port()))

    ran = run_tool(api, server["id"], "anything", {})

    assert ran["status"] == "error"
    assert server["server_name"] in ran["func_return"]


def test_a_second_server_offering_a_taken_tool_name_gets_its_own_name(
    api: httpx.Client, register: Registrations, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    prefix = unique_prefix()
    first = register(stdio_config(prefix, env={"ECHO_IDENTITY": "first-server"}))
    second = register(
        stdio_config(prefix, env={"ECHO_IDENTITY": "second-server"}), name=f"{prefix}two"
    )

    mine = server_tools(api, first["id"])
    theirs = server_tools(api, second["id"])
    renamed = f"{prefix}two__{prefix}whoami"
    agent = make_agent()
    attach(api, agent["id"], mine[f"{prefix}whoami"]["id"])
    attach(api, agent["id"], theirs[renamed]["id"])
    fake_llm.script(
        reply.tool_call(f"{prefix}whoami", {}),
        reply.tool_call(renamed, {}),
        reply.text("Both answered."),
    )
    send_input(api, agent["id"], "Who are you both?")
    refreshed = api.patch(f"/v1/mcp-servers/{second['id']}/refresh")

    assert f"{prefix}whoami" in mine and renamed in theirs
    assert theirs[renamed]["json_schema"]["name"] == renamed
    assert theirs[renamed]["metadata_"]["mcp"]["tool_name"] == f"{prefix}whoami"
    assert "first-server" in fake_llm.chat_requests[1].tool_results[-1]
    assert "second-server" in fake_llm.chat_requests[2].tool_results[-1]
    assert refreshed.json() == {"added": [], "updated": [], "removed": []}
    assert set(server_tools(api, second["id"])) == set(theirs)
