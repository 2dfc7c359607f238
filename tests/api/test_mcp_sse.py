"""MCP servers on the SSE transport: the echo server served over SSE by a real subprocess
on 127.0.0.1, asking for an ``X-Test-Key`` header that Engram sends as its auth header."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import AgentFactory, error_fields, send_input
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

KEY = "open-sesame-4242"


@pytest.fixture(scope="module")
def sse_echo() -> Iterator[str]:
    with serve_echo("sse", "sse_", require_key=KEY) as url:
        yield url


@pytest.fixture
def register(api: httpx.Client) -> Iterator[Registrations]:
    registrations = Registrations(api)
    yield registrations
    registrations.cleanup()


def sse_config(url: str, **extra: str) -> dict[str, str]:
    return {
        "mcp_server_type": "sse",
        "server_url": url,
        "auth_header": "X-Test-Key",
        "auth_token": KEY,
        **extra,
    }


def test_sse_server_is_registered_with_its_token_masked(
    api: httpx.Client, register: Registrations, sse_echo: str
) -> None:
    server = register(sse_config(sse_echo))

    shown = api.get(f"/v1/mcp-servers/{server['id']}").json()
    assert shown["mcp_server_type"] == "sse"
    assert shown["server_url"] == sse_echo
    assert shown["auth_header"] == "X-Test-Key"
    assert shown["auth_token"] != KEY and shown["auth_token"].endswith("4242")
    assert KEY not in str(api.get("/v1/mcp-servers/").json())
    tools = server_tools(api, server["id"])
    assert {"sse_echo", "sse_add", "sse_pid"} <= set(tools)
    assert tools["sse_add"]["tool_type"] == "external_mcp"


def test_agent_calls_an_sse_tool_and_reads_its_result(
    api: httpx.Client,
    register: Registrations,
    make_agent: AgentFactory,
    fake_llm: FakeLLM,
    sse_echo: str,
) -> None:
    server = register(sse_config(sse_echo))
    agent = make_agent()
    attach(api, agent["id"], server_tools(api, server["id"])["sse_add"]["id"])
    fake_llm.script(reply.tool_call("sse_add", {"a": 20, "b": 22}), reply.text("It is 42."))

    body = send_input(api, agent["id"], "Add 20 and 22.")

    assert fake_llm.chat_requests[-1].tool_results[-1] == "42"
    returns = [m for m in body["messages"] if m["message_type"] == "tool_return_message"]
    assert [m["status"] for m in returns] == ["success"]


def test_sse_calls_share_one_session(
    api: httpx.Client, register: Registrations, sse_echo: str
) -> None:
    server = register(sse_config(sse_echo))

    first = run_tool(api, server["id"], "sse_echo", {"text": "one"})
    second = run_tool(api, server["id"], "sse_echo", {"text": "two"})
    failed = run_tool(api, server["id"], "sse_fail", {"reason": "on purpose"})

    assert (first["status"], first["func_return"]) == ("success", "one")
    assert (second["status"], second["func_return"]) == ("success", "two")
    assert failed["status"] == "error" and "on purpose" in failed["func_return"]


def test_sse_server_refusing_the_request_is_stored_unreachable(
    api: httpx.Client, register: Registrations, sse_echo: str
) -> None:
    server = register({"mcp_server_type": "sse", "server_url": sse_echo})

    shown = api.get(f"/v1/mcp-servers/{server['id']}").json()

    assert shown["reachable"] is False
    assert server["server_name"] in shown["last_error"] and "401" in shown["last_error"]
    refreshed = api.patch(f"/v1/mcp-servers/{server['id']}/refresh")
    assert refreshed.status_code == 502 and "401" in refreshed.json()["detail"]


def test_sse_server_update_with_a_wrong_token_changes_nothing(
    api: httpx.Client, register: Registrations, sse_echo: str
) -> None:
    server = register(sse_config(sse_echo))

    wrong = {"config": {"mcp_server_type": "sse", "auth_token": "not-the-key-000"}}
    response = api.patch(f"/v1/mcp-servers/{server['id']}", json=wrong)

    assert response.status_code == 502
    assert api.get(f"/v1/mcp-servers/{server['id']}").json()["auth_token"].endswith("4242")
    assert run_tool(api, server["id"], "sse_echo", {"text": "ok"})["status"] == "success"


@pytest.mark.parametrize("other", ["stdio", "streamable_http"])
def test_changing_the_type_of_an_sse_server_is_a_422(
    api: httpx.Client, register: Registrations, sse_echo: str, other: str
) -> None:
    server = register(sse_config(sse_echo))
    config = {"mcp_server_type": other}

    response = api.patch(f"/v1/mcp-servers/{server['id']}", json={"config": config})

    assert response.status_code == 422, response.text
    assert "config.mcp_server_type" in error_fields(response)
    assert api.get(f"/v1/mcp-servers/{server['id']}").json()["mcp_server_type"] == "sse"


def test_changing_a_stdio_server_to_sse_is_a_422(
    api: httpx.Client, register: Registrations, sse_echo: str
) -> None:
    server = register(stdio_config(unique_prefix()))

    response = api.patch(
        f"/v1/mcp-servers/{server['id']}",
        json={"config": {"mcp_server_type": "sse", "server_url": sse_echo}},
    )

    assert response.status_code == 422, response.text
    assert "config.mcp_server_type" in error_fields(response)
    assert api.get(f"/v1/mcp-servers/{server['id']}").json()["mcp_server_type"] == "stdio"
