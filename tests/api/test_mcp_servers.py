"""MCP servers: registering, listing their tools, and agents calling those tools.

The MCP server is tests/support/mcp_echo_server.py, run by Engram as a real stdio
subprocess or by the test as a real streamable-HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, error_fields, send_input
from tests.fakes import FakeLLM, reply
from tests.support.mcp_servers import (
    TOOL_NAMES,
    Registrations,
    attach,
    serve_echo,
    server_tools,
    stdio_config,
    unique_prefix,
)

ServerFactory = Registrations


@pytest.fixture
def register(api: httpx.Client) -> Iterator[Registrations]:
    """Register MCP servers; the ones still registered are deleted afterwards."""
    registrations = Registrations(api)
    yield registrations
    registrations.cleanup()


@pytest.fixture(scope="module")
def http_echo() -> Iterator[str]:
    """The echo server on streamable HTTP, asking for an ``X-Test-Key`` header; its URL."""
    with serve_echo("http", "web_", require_key="sesame") as url:
        yield url


def test_stdio_server_tools_are_listed_with_their_schemas(
    api: httpx.Client, register: ServerFactory
) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix))

    tools = server_tools(api, server["id"])

    assert set(tools) == {f"{prefix}{name}" for name in TOOL_NAMES}
    add = tools[f"{prefix}add"]
    assert add["tool_type"] == "external_mcp"
    assert add["description"] == "Add two integers."
    assert add["json_schema"]["parameters"]["required"] == ["a", "b"]
    assert add["metadata_"]["mcp"]["server_id"] == server["id"]
    assert api.get(f"/v1/tools/{add['id']}").json()["name"] == f"{prefix}add"
    one = api.get(f"/v1/mcp-servers/{server['id']}/tools/{add['id']}")
    assert one.status_code == 200 and one.json()["id"] == add["id"]


def test_agent_calls_a_stdio_mcp_tool_and_reads_its_result(
    api: httpx.Client, register: ServerFactory, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix, env={"ECHO_IDENTITY": "engram-test-identity"}))
    tools = server_tools(api, server["id"])
    agent = make_agent()
    attach(api, agent["id"], tools[f"{prefix}add"]["id"])
    attach(api, agent["id"], tools[f"{prefix}whoami"]["id"])
    fake_llm.script(
        reply.tool_call(f"{prefix}add", {"a": 19, "b": 23}),
        reply.tool_call(f"{prefix}whoami", {}),
        reply.text("19 + 23 is 42."),
    )

    body = send_input(api, agent["id"], "What is 19 + 23?")

    assert body["messages"][-1]["content"] == "19 + 23 is 42."
    assert f"{prefix}add" in fake_llm.chat_requests[0].tool_names
    assert "42" in fake_llm.chat_requests[1].tool_results[-1]
    assert "engram-test-identity" in fake_llm.chat_requests[2].tool_results[-1]
    returns = [m for m in body["messages"] if m["message_type"] == "tool_return_message"]
    assert [m["status"] for m in returns] == ["success", "success"]


def test_agent_calls_a_streamable_http_mcp_tool_with_its_headers(
    api: httpx.Client,
    register: ServerFactory,
    make_agent: AgentFactory,
    fake_llm: FakeLLM,
    http_echo: str,
) -> None:
    server = register(
        {
            "mcp_server_type": "streamable_http",
            "server_url": http_echo,
            "custom_headers": {"X-Test-Key": "sesame"},
        }
    )
    tools = server_tools(api, server["id"])
    agent = make_agent()
    attach(api, agent["id"], tools["web_echo"]["id"])
    fake_llm.script(
        reply.tool_call("web_echo", {"text": "over the wire"}),
        reply.text("It said: over the wire."),
    )

    send_input(api, agent["id"], "Echo something.")

    assert "over the wire" in fake_llm.chat_requests[-1].tool_results[-1]


def test_http_server_refusing_the_request_is_stored_unreachable_with_the_error(
    api: httpx.Client, register: ServerFactory, http_echo: str
) -> None:
    config = {"mcp_server_type": "streamable_http", "server_url": http_echo}

    server = register(config)

    assert server["reachable"] is False
    assert "401" in server["last_error"]
    assert server_tools(api, server["id"]) == {}
    fixed = api.patch(
        f"/v1/mcp-servers/{server['id']}",
        json={"config": {**config, "custom_headers": {"X-Test-Key": "sesame"}}},
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["reachable"] is True and fixed.json()["last_error"] is None
    assert "web_echo" in server_tools(api, server["id"])


@pytest.mark.slow
def test_hung_mcp_tool_is_a_tool_error_after_the_timeout(
    api: httpx.Client, register: ServerFactory, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix, timeout_seconds=5))
    tools = server_tools(api, server["id"])
    agent = make_agent()
    attach(api, agent["id"], tools[f"{prefix}sleep"]["id"])
    attach(api, agent["id"], tools[f"{prefix}echo"]["id"])
    fake_llm.script(
        reply.tool_call(f"{prefix}sleep", {"seconds": 60}),
        reply.text("The tool timed out."),
    )

    started = time.monotonic()
    body = send_input(api, agent["id"], "Sleep a minute.")

    assert time.monotonic() - started < 30
    assert body["messages"][-1]["content"] == "The tool timed out."
    result = fake_llm.chat_requests[-1].tool_results[-1]
    assert "within 5s" in result
    fake_llm.script(reply.tool_call(f"{prefix}echo", {"text": "still here"}), reply.text("ok"))
    send_input(api, agent["id"], "Are you alive?")
    assert "still here" in fake_llm.chat_requests[-1].tool_results[-1]
    assert api.get("/v1/health/").status_code == 200


def test_tool_reporting_an_error_reaches_the_model_as_an_error(
    api: httpx.Client, register: ServerFactory, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix))
    agent = make_agent()
    attach(api, agent["id"], server_tools(api, server["id"])[f"{prefix}fail"]["id"])
    fake_llm.script(reply.tool_call(f"{prefix}fail", {"reason": "testing"}), reply.text("Oh."))

    body = send_input(api, agent["id"], "Fail, please.")

    assert "failed on purpose: testing" in fake_llm.chat_requests[-1].tool_results[-1]
    returns = [m for m in body["messages"] if m["message_type"] == "tool_return_message"]
    assert returns[-1]["status"] == "error"


def test_run_a_tool_directly(api: httpx.Client, register: ServerFactory) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix))
    add = server_tools(api, server["id"])[f"{prefix}add"]

    ran = api.post(
        f"/v1/mcp-servers/{server['id']}/tools/{add['id']}/run", json={"args": {"a": 2, "b": 5}}
    )
    failed = api.post(
        f"/v1/mcp-servers/{server['id']}/tools/{prefix}fail/run", json={"args": {"reason": "x"}}
    )

    assert ran.status_code == 200, ran.text
    assert ran.json()["status"] == "success" and ran.json()["func_return"] == "7"
    assert failed.status_code == 200, failed.text
    assert failed.json()["status"] == "error"


def test_secrets_are_masked_and_survive_an_update_sent_back_masked(
    api: httpx.Client, register: ServerFactory, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    prefix = unique_prefix()
    secret = "super-secret-identity-7781"
    server = register(stdio_config(prefix, env={"ECHO_IDENTITY": secret}))
    assert secret not in str(server)
    assert server["env"]["ECHO_IDENTITY"].endswith("7781")

    renamed = f"renamed-{uuid.uuid4().hex[:8]}"
    update = {"server_name": renamed, "config": {"mcp_server_type": "stdio", "env": server["env"]}}
    response = api.patch(f"/v1/mcp-servers/{server['id']}", json=update)
    assert response.status_code == 200, response.text
    assert response.json()["server_name"] == renamed
    listed = api.get("/v1/mcp-servers/").json()
    assert secret not in str(listed)
    assert renamed in [s["server_name"] for s in listed]

    agent = make_agent()
    attach(api, agent["id"], server_tools(api, server["id"])[f"{prefix}whoami"]["id"])
    fake_llm.script(reply.tool_call(f"{prefix}whoami", {}), reply.text("done"))
    send_input(api, agent["id"], "Who are you?")
    assert secret in fake_llm.chat_requests[-1].tool_results[-1]


def test_refresh_keeps_tool_ids(api: httpx.Client, register: ServerFactory) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix))
    before = server_tools(api, server["id"])

    response = api.patch(f"/v1/mcp-servers/{server['id']}/refresh")

    assert response.status_code == 200, response.text
    assert response.json() == {"added": [], "updated": [], "removed": []}
    after = server_tools(api, server["id"])
    assert {n: t["id"] for n, t in after.items()} == {n: t["id"] for n, t in before.items()}


def test_deleting_a_server_removes_its_tools_from_agents(
    api: httpx.Client, register: ServerFactory, make_agent: AgentFactory
) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix))
    add = server_tools(api, server["id"])[f"{prefix}add"]
    agent = make_agent()
    attach(api, agent["id"], add["id"])

    response = api.delete(f"/v1/mcp-servers/{server['id']}")

    assert response.status_code == 200
    assert api.get(f"/v1/mcp-servers/{server['id']}").status_code == 404
    assert api.get(f"/v1/tools/{add['id']}").status_code == 404
    tool_names = [t["name"] for t in api.get(f"/v1/agents/{agent['id']}/tools").json()]
    assert f"{prefix}add" not in tool_names


def test_duplicate_server_name_is_a_409(api: httpx.Client, register: ServerFactory) -> None:
    server = register(stdio_config(unique_prefix()))

    again = api.post(
        "/v1/mcp-servers/",
        json={"server_name": server["server_name"], "config": stdio_config(unique_prefix())},
    )

    assert again.status_code == 409
    assert server["server_name"] in again.json()["detail"]


def test_missing_command_is_stored_with_the_start_failure_named(
    api: httpx.Client, register: ServerFactory
) -> None:
    config = {"mcp_server_type": "stdio", "command": "/no/such/program", "args": []}

    server = register(config)

    assert server["reachable"] is False
    assert "/no/such/program" in server["last_error"]
    listed = api.get(f"/v1/mcp-servers/{server['id']}").json()
    assert listed["last_error"] == server["last_error"] and listed["last_synced_at"] is None


@pytest.mark.slow
def test_a_server_that_never_answers_is_stored_naming_the_timeout(
    api: httpx.Client, register: ServerFactory
) -> None:
    name = f"silent-{uuid.uuid4().hex[:8]}"
    config = {"mcp_server_type": "stdio", "command": "sleep", "args": ["600"], "timeout_seconds": 2}

    server = register(config, name=name)

    assert server["reachable"] is False
    assert f"MCP server '{name}' did not list its tools within 2s" in server["last_error"]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"mcp_server_type": "stdio", "args": []}, "command"),
        ({"mcp_server_type": "stdio", "command": "x", "args": "nope"}, "args"),
        ({"mcp_server_type": "streamable_http", "server_url": "ftp://x"}, "config.server_url"),
        ({"mcp_server_type": "sse", "server_url": "ftp://x"}, "config.server_url"),
        ({"mcp_server_type": "sse"}, "server_url"),
        ({"mcp_server_type": "websocket", "server_url": "http://x"}, "config"),
        (
            {"mcp_server_type": "stdio", "command": "x", "args": [], "timeout_seconds": 0},
            "timeout_seconds",
        ),
    ],
)
def test_bad_server_config_is_a_422_naming_the_field(
    api: httpx.Client, config: dict[str, Any], field: str
) -> None:
    response = api.post("/v1/mcp-servers/", json={"server_name": "bad", "config": config})

    assert response.status_code == 422, response.text
    assert field in error_fields(response)


def test_unknown_server_is_a_404(api: httpx.Client) -> None:
    assert api.get("/v1/mcp-servers/mcp_server-nope").status_code == 404
    assert api.get("/v1/mcp-servers/mcp_server-nope/tools").status_code == 404
    assert api.delete("/v1/mcp-servers/mcp_server-nope").status_code == 404
