"""Letta's older MCP routes, ``/v1/tools/mcp/servers...``, as integrations written for
self-hosted Letta call them: servers by name, configs with ``type``."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import error_fields
from tests.support.mcp_servers import ECHO_SERVER, serve_echo, unique_prefix
from tests.support.server import free_port

BASE = "/v1/tools/mcp/servers"


@pytest.fixture
def names(api: httpx.Client) -> Iterator[list[str]]:
    """Servers a test registers by name; the ones left are deleted afterwards."""
    created: list[str] = []
    yield created
    for name in created:
        api.delete(f"{BASE}/{name}")


def _stdio(name: str, prefix: str) -> dict[str, Any]:
    return {
        "server_name": name,
        "type": "stdio",
        "command": sys.executable,
        "args": [str(ECHO_SERVER), "stdio", "--prefix", prefix],
        "env": {"ECHO_IDENTITY": "legacy-identity-0099"},
    }


def test_a_stdio_server_through_the_older_routes(api: httpx.Client, names: list[str]) -> None:
    name, prefix = f"legacy-{uuid.uuid4().hex[:8]}", unique_prefix()
    names.append(name)

    added = api.put(BASE, json=_stdio(name, prefix))
    listed = api.get(BASE)
    tools = api.get(f"{BASE}/{name}/tools")
    one = api.post(f"{BASE}/{name}/{prefix}add")
    ran = api.post(f"{BASE}/{name}/tools/{prefix}add/execute", json={"args": {"a": 2, "b": 3}})
    resynced = api.post(f"{BASE}/{name}/resync")

    assert added.status_code == 200, added.text
    assert name in [server["server_name"] for server in added.json()]
    config = listed.json()[name]
    assert config["type"] == "stdio" and config["command"] == sys.executable
    assert config["env"]["ECHO_IDENTITY"].endswith("0099")
    assert "legacy-identity-0099" not in str(listed.json())
    assert tools.status_code == 200, tools.text
    add = {tool["name"]: tool for tool in tools.json()}[f"{prefix}add"]
    assert add["inputSchema"]["required"] == ["a", "b"]
    assert one.status_code == 200 and one.json()["tool_type"] == "external_mcp"
    assert ran.json() == {"result": "5", "success": True}
    assert resynced.json() == {"added": [], "updated": [], "deleted": []}


def test_rename_and_delete_by_name(api: httpx.Client, names: list[str]) -> None:
    name, renamed = f"legacy-{uuid.uuid4().hex[:8]}", f"legacy-{uuid.uuid4().hex[:8]}"
    names.extend([name, renamed])
    api.put(BASE, json=_stdio(name, unique_prefix()))

    changed = api.patch(f"{BASE}/{name}", json={"server_name": renamed})
    gone = api.delete(f"{BASE}/{renamed}")

    assert changed.status_code == 200, changed.text
    assert changed.json()["server_name"] == renamed and changed.json()["type"] == "stdio"
    assert gone.status_code == 200
    assert renamed not in [server["server_name"] for server in gone.json()]
    assert api.get(f"{BASE}/{renamed}/tools").status_code == 404


def test_an_unreachable_http_server_is_kept_and_synced_on_resync(
    api: httpx.Client, names: list[str]
) -> None:
    name, prefix, port = f"legacy-{uuid.uuid4().hex[:8]}", unique_prefix(), free_port()
    names.append(name)
    url = f"http://127.0.0.1:{port}/mcp"
    config = {"server_name": name, "type": "streamable_http", "server_url": url}

    added = api.put(BASE, json=config)
    tested = api.post(f"{BASE}/test", json=config)
    down = api.get(f"{BASE}/{name}/tools")
    shown_down = api.get(BASE).json()[name]
    with serve_echo("http", prefix, port=port):
        up = api.post(f"{BASE}/{name}/resync")
        tested_up = api.post(f"{BASE}/test", json=config)
        moved = api.patch(f"{BASE}/{name}", json={"server_url": url, "auth_header": "X-Test"})

    assert added.status_code == 200
    assert shown_down["reachable"] is False and str(port) in shown_down["last_error"]
    assert tested.status_code == 502 and down.status_code == 502
    assert up.status_code == 200 and f"{prefix}echo" in up.json()["added"]
    assert [tool["name"] for tool in tested_up.json()["tools"]].count(f"{prefix}echo") == 1
    assert moved.status_code == 200, moved.text
    assert moved.json()["auth_header"] == "X-Test" and moved.json()["reachable"] is True


def test_bad_configs_and_unknown_names(api: httpx.Client) -> None:
    no_command = api.put(BASE, json={"server_name": "x", "type": "stdio"})
    no_url = api.put(BASE, json={"server_name": "x", "type": "sse"})

    assert no_command.status_code == 422 and "command" in error_fields(no_command)
    assert no_url.status_code == 422 and "server_url" in error_fields(no_url)
    assert api.delete(f"{BASE}/no-such-server").status_code == 404
    assert api.post(f"{BASE}/no-such-server/resync").status_code == 404
