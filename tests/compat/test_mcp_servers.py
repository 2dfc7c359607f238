"""MCP servers through letta-client: register, list, list tools, run, attach, delete;
stdio servers run by Engram, an SSE server run by the test on 127.0.0.1."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Iterator

import pytest
from letta_client import InternalServerError, Letta, NotFoundError
from letta_client.types import SseMcpServer, StdioMcpServer, StreamableHTTPMcpServer

from tests.compat.conftest import AgentFactory
from tests.support.mcp_servers import ECHO_SERVER, serve_echo
from tests.support.server import free_port


@pytest.fixture
def prefix() -> str:
    return f"c{uuid.uuid4().hex[:6]}_"


@pytest.fixture
def server(client: Letta, prefix: str) -> Iterator[StdioMcpServer]:
    created = client.mcp_servers.create(
        server_name=f"sdk-echo-{uuid.uuid4().hex[:8]}",
        config={
            "mcp_server_type": "stdio",
            "command": sys.executable,
            "args": [str(ECHO_SERVER), "stdio", "--prefix", prefix],
            "env": {"ECHO_IDENTITY": "a-long-secret-value-0042"},
        },
    )
    assert isinstance(created, StdioMcpServer)
    yield created
    with contextlib.suppress(NotFoundError):
        client.mcp_servers.delete(created.id)


def test_created_server_is_listed_and_retrieved_with_its_env_masked(
    client: Letta, server: StdioMcpServer
) -> None:
    listed = {item.id: item for item in client.mcp_servers.list()}
    retrieved = client.mcp_servers.retrieve(server.id)

    assert server.id in listed
    assert retrieved.server_name == server.server_name
    assert isinstance(retrieved, StdioMcpServer)
    assert retrieved.command == sys.executable
    assert retrieved.env is not None
    assert retrieved.env["ECHO_IDENTITY"] != "a-long-secret-value-0042"
    assert retrieved.env["ECHO_IDENTITY"].endswith("0042")


def test_server_tools_are_listed_run_and_attached_as_tools(
    client: Letta, server: StdioMcpServer, prefix: str, make_agent: AgentFactory
) -> None:
    tools = {tool.name: tool for tool in client.mcp_servers.tools.list(server.id)}
    add = tools[f"{prefix}add"]

    one = client.mcp_servers.tools.retrieve(add.id, mcp_server_id=server.id)
    ran = client.mcp_servers.tools.run(add.id, mcp_server_id=server.id, args={"a": 4, "b": 5})
    agent = make_agent()
    attached = client.agents.tools.attach(add.id, agent_id=agent.id)

    assert one.id == add.id and one.tool_type == "external_mcp"
    assert ran.status == "success" and ran.func_return == "9"
    assert attached is not None
    assert f"{prefix}add" in [tool.name for tool in attached.tools]


def test_deleted_server_is_gone(client: Letta, server: StdioMcpServer) -> None:
    client.mcp_servers.delete(server.id)

    with pytest.raises(NotFoundError):
        client.mcp_servers.retrieve(server.id)


def test_sse_server_round_trip(client: Letta, make_agent: AgentFactory) -> None:
    with serve_echo("sse", "csse_", require_key="letta-sse-key-77") as url:
        created = client.mcp_servers.create(
            server_name=f"sdk-sse-{uuid.uuid4().hex[:8]}",
            config={
                "mcp_server_type": "sse",
                "server_url": url,
                "auth_header": "X-Test-Key",
                "auth_token": "letta-sse-key-77",
            },
        )
        try:
            renamed = client.mcp_servers.update(
                created.id,
                server_name=f"sdk-sse-renamed-{uuid.uuid4().hex[:8]}",
                config={"mcp_server_type": "sse", "server_url": url},
            )
            retrieved = client.mcp_servers.retrieve(created.id)
            tools = {tool.name: tool for tool in client.mcp_servers.tools.list(created.id)}
            ran = client.mcp_servers.tools.run(
                tools["csse_add"].id, mcp_server_id=created.id, args={"a": 30, "b": 12}
            )
            agent = make_agent()
            attached = client.agents.tools.attach(tools["csse_echo"].id, agent_id=agent.id)
        finally:
            client.mcp_servers.delete(created.id)

    assert isinstance(created, SseMcpServer) and isinstance(retrieved, SseMcpServer)
    assert isinstance(renamed, SseMcpServer) and retrieved.server_name == renamed.server_name
    assert retrieved.server_url == url and retrieved.auth_header == "X-Test-Key"
    assert retrieved.auth_token is not None and retrieved.auth_token != "letta-sse-key-77"
    assert ran.status == "success" and ran.func_return == "42"
    assert attached is not None and "csse_echo" in [tool.name for tool in attached.tools]
    with pytest.raises(NotFoundError):
        client.mcp_servers.retrieve(created.id)


def test_an_unreachable_server_is_kept_and_its_tools_sync_on_refresh(client: Letta) -> None:
    port = free_port()
    created = client.mcp_servers.create(
        server_name=f"sdk-later-{uuid.uuid4().hex[:8]}",
        config={
            "mcp_server_type": "streamable_http",
            "server_url": f"http://127.0.0.1:{port}/mcp",
        },
    )
    try:
        shown = client.mcp_servers.retrieve(created.id)
        tools_before = client.mcp_servers.tools.list(created.id)
        with serve_echo("http", "clater_", port=port):
            refreshed = client.mcp_servers.refresh(created.id)
            tools_after = {tool.name for tool in client.mcp_servers.tools.list(created.id)}
            ran = client.mcp_servers.tools.run(
                "clater_add", mcp_server_id=created.id, args={"a": 20, "b": 22}
            )
        again = client.mcp_servers.retrieve(created.id)
    finally:
        client.mcp_servers.delete(created.id)

    assert isinstance(created, StreamableHTTPMcpServer)
    assert shown.to_dict()["reachable"] is False and str(port) in shown.to_dict()["last_error"]
    assert tools_before == []
    assert "clater_add" in refreshed["added"]  # type: ignore[index]
    assert "clater_add" in tools_after
    assert ran.status == "success" and ran.func_return == "42"
    assert again.to_dict()["reachable"] is True


def test_two_servers_offering_one_tool_name_both_keep_it(
    client: Letta, server: StdioMcpServer, prefix: str
) -> None:
    second = client.mcp_servers.create(
        server_name=f"sdk-twin-{uuid.uuid4().hex[:8]}",
        config={
            "mcp_server_type": "stdio",
            "command": sys.executable,
            "args": [str(ECHO_SERVER), "stdio", "--prefix", prefix],
        },
    )
    try:
        first_names = {tool.name for tool in client.mcp_servers.tools.list(server.id)}
        second_names = {tool.name for tool in client.mcp_servers.tools.list(second.id)}
    finally:
        client.mcp_servers.delete(second.id)

    assert f"{prefix}add" in first_names
    assert f"{second.server_name}__{prefix}add" in second_names
    assert not first_names & second_names


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/tools/mcp/servers/connect"),
        ("get", "/v1/mcp-servers/connect/mcp_server-00000000-0000-4000-8000-000000000000"),
        ("get", "/v1/tools/mcp/oauth/callback?code=abc&state=xyz"),
    ],
)
def test_letta_oauth_routes_answer_a_501_saying_what_to_do(
    client: Letta, method: str, path: str
) -> None:
    with pytest.raises(InternalServerError) as caught:
        if method == "post":
            client.post(path, cast_to=object, body={"server_name": "x", "type": "sse"})
        else:
            client.get(path, cast_to=object)

    assert caught.value.status_code == 501
    assert caught.value.response.headers["x-should-retry"] == "false"
    detail = str(caught.value.body)
    assert path.split("?")[0] in detail and "auth_token" in detail
