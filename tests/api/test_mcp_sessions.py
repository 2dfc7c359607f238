"""Live MCP sessions: one stdio process per registered server, reused by later calls,
replaced when it dies or hangs, closed when the server is changed, deleted or shut down.

The echo server's ``pid`` tool tells which process answered a call; ``freeze`` blocks the
whole server, which is what a hung server looks like from Engram's side.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import MODEL, AgentFactory, send_input
from tests.fakes import FakeLLM, reply
from tests.support.mcp_servers import (
    Registrations,
    attach,
    is_running,
    kill,
    run_tool,
    serve_echo,
    server_tools,
    stdio_config,
    unique_prefix,
    wait_until_gone,
)
from tests.support.server import EngramServer, free_port

pytestmark = pytest.mark.slow  # see tests/conftest.py


@pytest.fixture
def register(api: httpx.Client) -> Iterator[Registrations]:
    registrations = Registrations(api)
    yield registrations
    registrations.cleanup()


def pid_of(api: httpx.Client, server_id: str, prefix: str) -> int:
    result = run_tool(api, server_id, f"{prefix}pid")
    assert result["status"] == "success", result
    return int(result["func_return"])


def test_calls_to_a_stdio_server_reuse_one_process(
    api: httpx.Client, register: Registrations
) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix))

    first = pid_of(api, server["id"], prefix)
    second = pid_of(api, server["id"], prefix)
    third = pid_of(api, server["id"], prefix)

    assert first == second == third
    assert is_running(first)


def test_an_agent_call_after_the_server_process_died_succeeds_on_a_new_process(
    api: httpx.Client, register: Registrations, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix))
    agent = make_agent()
    attach(api, agent["id"], server_tools(api, server["id"])[f"{prefix}pid"]["id"])
    fake_llm.script(reply.tool_call(f"{prefix}pid", {}), reply.text("noted"))
    send_input(api, agent["id"], "Which process are you?")
    before = int(fake_llm.chat_requests[-1].tool_results[-1])

    kill(before)
    fake_llm.script(reply.tool_call(f"{prefix}pid", {}), reply.text("noted again"))
    body = send_input(api, agent["id"], "And now?")

    after = fake_llm.chat_requests[-1].tool_results[-1]
    assert after.isdigit() and int(after) != before
    returns = [m for m in body["messages"] if m["message_type"] == "tool_return_message"]
    assert [m["status"] for m in returns] == ["success"]
    assert pid_of(api, server["id"], prefix) == int(after)


def test_updating_a_server_closes_its_session(api: httpx.Client, register: Registrations) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix))
    before = pid_of(api, server["id"], prefix)

    update = {"config": {"mcp_server_type": "stdio", "env": {"ECHO_IDENTITY": "changed"}}}
    response = api.patch(f"/v1/mcp-servers/{server['id']}", json=update)

    assert response.status_code == 200, response.text
    assert wait_until_gone(before)
    whoami = run_tool(api, server["id"], f"{prefix}whoami")
    assert whoami["func_return"] == "changed"
    assert pid_of(api, server["id"], prefix) != before


def test_deleting_a_server_closes_its_session(api: httpx.Client, register: Registrations) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix))
    pid = pid_of(api, server["id"], prefix)

    response = api.delete(f"/v1/mcp-servers/{server['id']}")

    assert response.status_code == 200
    assert wait_until_gone(pid)


def test_a_call_running_when_its_server_is_changed_ends_with_an_error(
    api: httpx.Client, register: Registrations
) -> None:
    """It is not retried: the settings it was started with no longer exist."""
    prefix = unique_prefix()
    server = register(stdio_config(prefix))
    pid = pid_of(api, server["id"], prefix)

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_tool, api, server["id"], f"{prefix}sleep", {"seconds": 8})
        time.sleep(1)
        renamed = api.patch(
            f"/v1/mcp-servers/{server['id']}",
            json={
                "server_name": f"renamed-{uuid.uuid4().hex[:8]}",
                "config": {"mcp_server_type": "stdio"},
            },
        )
        result = running.result(timeout=30)

    assert renamed.status_code == 200, renamed.text
    assert result["status"] == "error"
    assert "changed or deleted" in result["func_return"]
    assert not is_running(pid)
    assert pid_of(api, server["id"], prefix) != pid


def test_refreshing_a_server_moves_later_calls_to_a_fresh_session(
    api: httpx.Client, register: Registrations
) -> None:
    """A call already running on the old session finishes there, then it is closed."""
    prefix = unique_prefix()
    server = register(stdio_config(prefix))
    old = pid_of(api, server["id"], prefix)

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_tool, api, server["id"], f"{prefix}sleep", {"seconds": 6})
        time.sleep(1)
        refreshed = api.patch(f"/v1/mcp-servers/{server['id']}/refresh")
        new = pid_of(api, server["id"], prefix)
        assert is_running(old)
        result = running.result(timeout=30)

    assert refreshed.status_code == 200, refreshed.text
    assert new != old
    assert (result["status"], result["func_return"]) == ("success", "slept 6.0s")
    assert wait_until_gone(old)
    assert pid_of(api, server["id"], prefix) == new


def test_a_rejected_update_keeps_the_live_session(
    api: httpx.Client, register: Registrations
) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix))
    pid = pid_of(api, server["id"], prefix)

    bad = {"config": {"mcp_server_type": "stdio", "command": "/no/such/program"}}
    response = api.patch(f"/v1/mcp-servers/{server['id']}", json=bad)

    assert response.status_code == 502
    assert "/no/such/program" in response.json()["detail"]
    assert api.get(f"/v1/mcp-servers/{server['id']}").json()["command"] != "/no/such/program"
    assert pid_of(api, server["id"], prefix) == pid


@pytest.mark.parametrize(
    ("transport", "server_type"), [("http", "streamable_http"), ("sse", "sse")]
)
def test_a_network_server_that_restarts_is_reconnected(
    api: httpx.Client, register: Registrations, transport: str, server_type: str
) -> None:
    prefix, port = unique_prefix(), free_port()
    with serve_echo(transport, prefix, port=port) as url:
        server = register({"mcp_server_type": server_type, "server_url": url})
        before = pid_of(api, server["id"], prefix)

    started = time.monotonic()
    down = run_tool(api, server["id"], f"{prefix}pid")
    assert down["status"] == "error" and url in down["func_return"]
    assert time.monotonic() - started < 5
    with serve_echo(transport, prefix, port=port):
        after = pid_of(api, server["id"], prefix)

    assert after != before


def test_a_slow_tool_times_out_but_keeps_a_healthy_server_running(
    api: httpx.Client, register: Registrations
) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix, timeout_seconds=5))
    pid = pid_of(api, server["id"], prefix)

    slow = run_tool(api, server["id"], f"{prefix}sleep", {"seconds": 30})

    assert slow["status"] == "error" and "within 5s" in slow["func_return"]
    time.sleep(3)  # the ping that follows a timeout is answered: the process stays
    assert pid_of(api, server["id"], prefix) == pid


def test_a_hung_server_times_out_without_delaying_another_server(
    api: httpx.Client, register: Registrations, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    hung, healthy = unique_prefix(), unique_prefix()
    hung_server = register(stdio_config(hung, timeout_seconds=5))
    healthy_server = register(stdio_config(healthy))
    frozen_pid = pid_of(api, hung_server["id"], hung)
    agent = make_agent()
    attach(api, agent["id"], server_tools(api, hung_server["id"])[f"{hung}freeze"]["id"])
    attach(api, agent["id"], server_tools(api, healthy_server["id"])[f"{healthy}echo"]["id"])
    fake_llm.script(
        reply.tool_calls(
            [(f"{hung}freeze", {"seconds": 120}), (f"{healthy}echo", {"text": "still fine"})]
        ),
        reply.text("One of them hung."),
    )

    with ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        turn = pool.submit(send_input, api, agent["id"], "Call both.")
        # While the agent waits on the frozen server, the healthy one answers at once.
        time.sleep(0.5)
        echoed = run_tool(api, healthy_server["id"], f"{healthy}echo", {"text": "meanwhile"})
        echo_seconds = time.monotonic() - started
        body = turn.result(timeout=60)
    turn_seconds = time.monotonic() - started

    assert echoed == {**echoed, "status": "success", "func_return": "meanwhile"}
    assert echo_seconds < 2.5
    assert turn_seconds < 20
    results = fake_llm.chat_requests[-1].tool_results
    assert "within 5s" in results[0]
    assert results[1] == "still fine"
    assert body["messages"][-1]["content"] == "One of them hung."
    # The frozen process did not answer a ping: it is replaced, and the server works again.
    assert wait_until_gone(frozen_pid)
    assert pid_of(api, hung_server["id"], hung) != frozen_pid


def test_shutting_down_closes_the_sessions_cleanly(fresh_server: EngramServer) -> None:
    fresh_server.start()
    prefix = unique_prefix()
    with fresh_server.client() as client:
        body = {"server_name": f"echo-{uuid.uuid4().hex[:8]}", "config": stdio_config(prefix)}
        created = client.post("/v1/mcp-servers/", json=body)
        assert created.status_code == 200, created.text
        pid = pid_of(client, created.json()["id"], prefix)

    fresh_server.stop()

    assert wait_until_gone(pid, 5)
    log = fresh_server.log()
    assert "Traceback" not in log and "Task was destroyed" not in log, log


def test_agents_calling_one_server_share_its_process(
    api: httpx.Client, register: Registrations, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    prefix = unique_prefix()
    server = register(stdio_config(prefix))
    pid_tool = server_tools(api, server["id"])[f"{prefix}pid"]
    seen = []
    for _ in range(2):
        agent = make_agent(model=MODEL)
        attach(api, agent["id"], pid_tool["id"])
        fake_llm.script(reply.tool_call(f"{prefix}pid", {}), reply.text("ok"))
        send_input(api, agent["id"], "Which process?")
        seen.append(fake_llm.chat_requests[-1].tool_results[-1])

    assert seen[0] == seen[1] == str(pid_of(api, server["id"], prefix))


def test_an_idle_session_is_closed_and_reopened_on_demand(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    server = EngramServer(tmp_path / "data", fake_llm.base_url, {"ENGRAM_MCP_IDLE_SECONDS": "1"})
    server.start()
    try:
        with server.client() as client:
            prefix = unique_prefix()
            body = {"server_name": f"idle-{uuid.uuid4().hex[:8]}", "config": stdio_config(prefix)}
            created = client.post("/v1/mcp-servers/", json=body)
            assert created.status_code == 200, created.text
            first = pid_of(client, created.json()["id"], prefix)

            assert wait_until_gone(first, 5)
            assert pid_of(client, created.json()["id"], prefix) != first
    finally:
        server.stop()
