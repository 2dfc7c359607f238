"""Agents survive SIGKILL: what a step committed comes back, a step cut short leaves nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeLLM, reply
from tests.support.backends import Backend
from tests.support.server import EngramServer

pytestmark = pytest.mark.slow  # see tests/conftest.py

MODEL = "openai/gpt-4o-mini"


def _create_agent(client: httpx.Client) -> str:
    response = client.post(
        "/v1/agents/",
        json={
            "name": "durable",
            "model": MODEL,
            "memory_blocks": [
                {"label": "human", "value": "Name: unknown"},
                {"label": "persona", "value": "I remember things."},
            ],
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def test_committed_memory_survives_sigkill_and_restart(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend
) -> None:
    server = EngramServer(tmp_path / "data", fake_llm.base_url, database_url=backend.database_url())
    server.start()
    try:
        with server.client() as client:
            agent_id = _create_agent(client)
            fake_llm.script(
                reply.tool_call("archival_memory_insert", {"content": "Sam's dog is called Rex"}),
                reply.tool_call(
                    "core_memory_replace",
                    {"label": "human", "old_content": "unknown", "new_content": "Sam"},
                ),
                reply.text("Nice to meet you, Sam."),
            )
            sent = client.post(
                f"/v1/agents/{agent_id}/messages",
                json={"messages": [{"role": "user", "content": "I'm Sam; my dog is Rex."}]},
            )
            assert sent.status_code == 200, sent.text
            before = client.get(f"/v1/agents/{agent_id}/messages", params={"limit": 100}).json()
        server.kill()

        server.start()
        with server.client() as client:
            human = client.get(f"/v1/agents/{agent_id}/core-memory/blocks/human").json()
            assert human["value"] == "Name: Sam"
            after = client.get(f"/v1/agents/{agent_id}/messages", params={"limit": 100}).json()
            assert [m["id"] for m in after] == [m["id"] for m in before]
            assert any(m.get("content") == "I'm Sam; my dog is Rex." for m in after)
            found = client.get(
                f"/v1/agents/{agent_id}/archival-memory/search", params={"query": "pet dog name"}
            ).json()
            assert found["results"][0]["content"] == "Sam's dog is called Rex"
            listed = client.get(f"/v1/agents/{agent_id}/archival-memory").json()
            assert [p["text"] for p in listed] == ["Sam's dog is called Rex"]
    finally:
        server.stop()


def test_step_killed_mid_call_keeps_committed_steps_only(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend
) -> None:
    server = EngramServer(tmp_path / "data", fake_llm.base_url, database_url=backend.database_url())
    server.start()
    try:
        with server.client() as client:
            agent_id = _create_agent(client)
            fake_llm.script(reply.text("first answer"))
            client.post(
                f"/v1/agents/{agent_id}/messages",
                json={"messages": [{"role": "user", "content": "hello"}]},
            ).raise_for_status()
            before = client.get(f"/v1/agents/{agent_id}/messages").json()
            # The first step commits; the model is slow on the second and the server dies.
            fake_llm.script(
                reply.tool_call("core_memory_append", {"label": "human", "content": "x"}),
                reply.text("too late", delay=30),
            )
            requests_before = len(fake_llm.chat_requests)

            def send() -> None:
                try:
                    with server.client() as other:
                        other.post(
                            f"/v1/agents/{agent_id}/messages",
                            json={
                                "messages": [{"role": "user", "content": "write x, then answer"}]
                            },
                        )
                except httpx.HTTPError:
                    pass

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            fake_llm.wait_for_requests(requests_before + 2, timeout=20)
        server.kill()
        sender.join(10)

        server.start()
        with server.client() as client:
            after = client.get(f"/v1/agents/{agent_id}/messages").json()
            # The committed first step is there, whole; nothing of the second.
            new = [m for m in after if m["id"] not in {b["id"] for b in before}]
            assert [m["message_type"] for m in new] == [
                "tool_return_message",
                "tool_call_message",
                "user_message",
            ]
            human = client.get(f"/v1/agents/{agent_id}/core-memory/blocks/human").json()
            assert human["value"] == "Name: unknown\nx"
            run = client.get(f"/v1/runs/{new[0]['run_id']}").json()
            assert run["status"] == "failed"
            assert "server stopped" in run["metadata"]["error"]
            # And the agent still works after the crash.
            fake_llm.script(reply.text("back again"))
            again = client.post(
                f"/v1/agents/{agent_id}/messages",
                json={"messages": [{"role": "user", "content": "are you there?"}]},
            )
            assert again.status_code == 200, again.text
            assert again.json()["messages"][-1]["content"] == "back again"
    finally:
        server.stop()
