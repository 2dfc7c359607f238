"""A sleep-time run cut short by a server kill is queued again after the restart and reads
the same turns; the block edit it then makes is recorded with the sleep-time agent."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes import FakeLLM, reply
from tests.fakes.replies import FakeRequest
from tests.support.backends import Backend
from tests.support.server import EngramServer

pytestmark = pytest.mark.slow  # see tests/conftest.py

MODEL = "openai/gpt-4o-mini"
SETTINGS = {"ENGRAM_WORKER_DEAD_AFTER_SECONDS": "15", "ENGRAM_ORPHAN_GRACE_SECONDS": "2"}
RESUME_TIMEOUT = 120.0


def is_sleeper(request: FakeRequest) -> bool:
    """A model call of this test's sleep-time agent (other servers may share the fake)."""
    said = " ".join(request.user_texts)
    return "You look after the memory of another agent" in request.system_text and "Noor" in said


def sleeper_runs(client: httpx.Client, sleeper_id: str) -> list[dict[str, Any]]:
    runs = client.get("/v1/runs/", params={"agent_id": sleeper_id, "order": "asc"}).json()
    return list(runs)


def test_a_sleeptime_run_interrupted_by_a_kill_resumes_after_the_restart(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend
) -> None:
    server = EngramServer(
        tmp_path / "data", fake_llm.base_url, SETTINGS, database_url=backend.database_url()
    )
    server.start()
    try:
        fake_llm.when(is_sleeper, reply.text("never delivered", delay=60), once=True)
        with server.client() as client:
            agent = client.post(
                "/v1/agents/",
                json={
                    "model": MODEL,
                    "enable_sleeptime": True,
                    "memory_blocks": [{"label": "human", "value": "Unknown."}],
                },
            ).json()
            group = agent["multi_agent_group"]
            sleeper_id = group["agent_ids"][0]
            client.patch(
                f"/v1/groups/{group['id']}",
                json={"manager_config": {"sleeptime_agent_frequency": 1}},
            )
            said = client.post(
                f"/v1/agents/{agent['id']}/messages",
                json={"messages": [{"role": "user", "content": "I am Noor, a pilot."}]},
            )
            assert said.status_code == 200, said.text
            deadline = time.monotonic() + 20
            while [r["status"] for r in sleeper_runs(client, sleeper_id)] != ["running"]:
                assert time.monotonic() < deadline, sleeper_runs(client, sleeper_id)
                time.sleep(0.05)
            # Killed only once its model call has reached the fake, which holds it: a kill
            # before that (a loaded machine) would leave the held reply for the resumed run.
            while not any(is_sleeper(request) for request in fake_llm.chat_requests):
                assert time.monotonic() < deadline, "the sleep-time run never called the model"
                time.sleep(0.05)
        server.kill()
        fake_llm.when(
            is_sleeper,
            reply.tool_call("memory_rethink", {"label": "human", "new_memory": "Noor, a pilot."}),
            once=True,
        )
        fake_llm.when(is_sleeper, reply.tool_call("memory_finish_edits", {}))
        server.start()

        with server.client() as client:
            deadline = time.monotonic() + RESUME_TIMEOUT
            while True:
                runs = sleeper_runs(client, sleeper_id)
                if len(runs) == 2 and runs[1]["completed_at"] is not None:
                    break
                assert time.monotonic() < deadline, runs
                time.sleep(0.2)
            assert [r["status"] for r in runs] == ["failed", "completed"], runs
            assert runs[0]["metadata"]["from_seq"] == runs[1]["metadata"]["from_seq"]
            blocks = client.get(f"/v1/agents/{agent['id']}/core-memory/blocks").json()
            human = next(b for b in blocks if b["label"] == "human")
            assert human["value"] == "Noor, a pilot."
            (edit,) = client.get(f"/v1/blocks/{human['id']}/history").json()
            assert (edit["actor_id"], edit["run_id"]) == (sleeper_id, runs[1]["id"])
            asked = [r for r in fake_llm.chat_requests if is_sleeper(r)]
            assert "I am Noor, a pilot." in asked[-1].last_user_text
    finally:
        server.stop()
