"""``client.mcp_servers`` in-process, against the echo MCP server (tests/support) run by
Engram over stdio or by the test over streamable HTTP: the same shapes as the REST API,
the same refusals, a server that cannot be reached stored and synced once it answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engram import Engram
from engram.errors import InvalidInput, NotFound, ProviderError
from tests.support.mcp_servers import (
    TOOL_NAMES,
    Registrations,
    serve_echo,
    stdio_config,
    unique_prefix,
)
from tests.support.server import free_port

MISSING_SERVER = "mcp_server-00000000-0000-4000-8000-000000000000"


@pytest.fixture
def register(api: httpx.Client) -> Iterator[Registrations]:
    """MCP servers registered over REST; the ones still there are deleted afterwards."""
    registrations = Registrations(api)
    yield registrations
    registrations.cleanup()


def server_name() -> str:
    return f"echo-{uuid.uuid4().hex[:8]}"


def without(shape: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in shape.items() if key not in names}


@pytest.mark.slow
def test_a_stdio_server_through_its_whole_life_has_the_rest_shapes(
    engram_client: Engram, api: httpx.Client, register: Registrations
) -> None:
    prefix = unique_prefix()
    config = stdio_config(prefix, env={"ECHO_IDENTITY": "client-identity-0042"})
    name = server_name()
    over_rest = register(config, name)

    server = engram_client.mcp_servers.create(config=config, server_name=name)

    # Registered twice, a moment apart: only the id and the time its tools were listed differ.
    assert without(server.model_dump(), "id", "last_synced_at") == without(
        over_rest, "id", "last_synced_at"
    )
    assert server.env == {"ECHO_IDENTITY": "****0042"}
    assert engram_client.mcp_servers.retrieve(server.id) == server
    assert [listed.id for listed in engram_client.mcp_servers.list()] == [server.id]

    tools = {tool.name: tool for tool in engram_client.mcp_servers.tools.list(server.id)}
    rest_tools = {
        tool["name"]: tool for tool in api.get(f"/v1/mcp-servers/{over_rest['id']}/tools").json()
    }
    assert set(tools) == {f"{prefix}{tool}" for tool in TOOL_NAMES} == set(rest_tools)
    add = tools[f"{prefix}add"]
    assert set(add.model_dump()) == set(rest_tools[add.name])
    assert engram_client.mcp_servers.tools.retrieve(add.name, mcp_server_id=server.id) == add

    ran = engram_client.mcp_servers.tools.run(
        add.id, mcp_server_id=server.id, args={"a": 2, "b": 5}
    )
    failed = engram_client.mcp_servers.tools.run(
        f"{prefix}fail", mcp_server_id=server.id, args={"reason": "x"}
    )
    assert ran.status == "success" and ran.func_return == "7"
    assert failed.status == "error"
    assert (
        ran.model_dump()
        == api.post(
            f"/v1/mcp-servers/{over_rest['id']}/tools/{prefix}add/run",
            json={"args": {"a": 2, "b": 5}},
        ).json()
    )

    changed = engram_client.mcp_servers.update(
        server.id, config={"mcp_server_type": "stdio", "timeout_seconds": 12}
    )
    assert changed.timeout_seconds == 12
    assert changed.env == server.env  # the stored secret is kept, shown masked
    refreshed = engram_client.mcp_servers.refresh(server.id)
    assert set(refreshed) == {"added", "updated", "removed"} and refreshed["removed"] == []

    assert engram_client.mcp_servers.delete(server.id) is None
    assert engram_client.mcp_servers.list() == []
    with pytest.raises(NotFound):
        engram_client.mcp_servers.retrieve(server.id)
    with pytest.raises(NotFound):
        engram_client.tools.retrieve(add.id)


def test_a_streamable_http_server_is_registered_with_its_headers(engram_client: Engram) -> None:
    with serve_echo("http", "web_", require_key="sesame") as url:
        config = {
            "mcp_server_type": "streamable_http",
            "server_url": url,
            "custom_headers": {"X-Test-Key": "sesame"},
        }
        server = engram_client.mcp_servers.create(config=config, server_name=server_name())
        ran = engram_client.mcp_servers.tools.run(
            "web_echo", mcp_server_id=server.id, args={"text": "hi"}
        )

    assert server.mcp_server_type == "streamable_http" and server.server_url == url
    assert ran.status == "success" and ran.func_return == "hi"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"mcp_server_type": "stdio"}, "config.stdio.command"),
        ({"mcp_server_type": "telnet", "command": "x"}, "config"),
        ({"mcp_server_type": "sse", "server_url": "ftp://example"}, "config.server_url"),
        (
            {"mcp_server_type": "stdio", "command": "x", "timeout_seconds": 0},
            "config.stdio.timeout_seconds",
        ),
    ],
    ids=["no-command", "unknown-type", "not-http", "timeout"],
)
def test_a_bad_config_is_refused_naming_the_field_and_nothing_is_stored(
    engram_client: Engram, api: httpx.Client, config: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        engram_client.mcp_servers.create(config=config, server_name=server_name())
    over_rest = api.post("/v1/mcp-servers/", json={"config": config, "server_name": "x"})

    assert over_rest.status_code == 422
    assert refused.value.field == field
    assert engram_client.mcp_servers.list() == []


def test_a_server_that_cannot_be_reached_is_stored_and_synced_once_it_answers(
    engram_client: Engram,
) -> None:
    prefix, port = unique_prefix(), free_port()
    config = {"mcp_server_type": "streamable_http", "server_url": f"http://127.0.0.1:{port}/mcp"}

    server = engram_client.mcp_servers.create(config=config, server_name=server_name())
    with pytest.raises(ProviderError):
        engram_client.mcp_servers.refresh(server.id)
    with serve_echo("http", prefix, port=port):
        report = engram_client.mcp_servers.refresh(server.id)

    assert server.reachable is False and server.last_error and str(port) in server.last_error
    assert f"{prefix}add" in report["added"]
    assert engram_client.mcp_servers.retrieve(server.id).reachable is True


def test_a_change_keeps_the_servers_type_and_names_what_is_wrong(engram_client: Engram) -> None:
    prefix = unique_prefix()
    server = engram_client.mcp_servers.create(
        config=stdio_config(prefix), server_name=server_name()
    )

    with pytest.raises(InvalidInput) as retyped:
        engram_client.mcp_servers.update(
            server.id, config={"mcp_server_type": "sse", "server_url": "http://127.0.0.1:1/"}
        )
    with pytest.raises(InvalidInput) as unnamed:
        engram_client.mcp_servers.update(
            server.id, config={"mcp_server_type": "stdio"}, server_name=""
        )
    with pytest.raises(NotFound):
        engram_client.mcp_servers.update(MISSING_SERVER, config={"mcp_server_type": "stdio"})
    with pytest.raises(NotFound):
        engram_client.mcp_servers.tools.list(MISSING_SERVER)

    assert retyped.value.field == "config.mcp_server_type"
    assert unnamed.value.field == "server_name"
    assert engram_client.mcp_servers.retrieve(server.id) == server
