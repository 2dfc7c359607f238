"""``engram db migrate --to``: a populated deployment copied into another database, verified,
and served from there with nothing missing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply
from tests.support.backends import Backend
from tests.support.server import EngramServer

pytestmark = pytest.mark.slow  # see tests/conftest.py

MODEL = "openai/gpt-4o-mini"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engram", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def populate(client: httpx.Client, fake_llm: FakeLLM) -> dict[str, Any]:
    """Two agents sharing a block, a conversation with tool calls, archival passages."""
    shared = client.post("/v1/blocks/", json={"label": "team", "value": "Support team."}).json()
    agents = []
    for name in ("alpha", "beta"):
        response = client.post(
            "/v1/agents/",
            json={
                "name": name,
                "model": MODEL,
                "memory_blocks": [{"label": "human", "value": f"Talks to {name}."}],
                "block_ids": [shared["id"]],
                "tags": ["migrated"],
            },
        )
        assert response.status_code == 200, response.text
        agents.append(response.json())
    alpha = agents[0]["id"]
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "The user's dog is Rex."}),
        reply.text("Saved."),
        reply.tool_call("core_memory_append", {"label": "human", "content": "Dog: Rex"}),
        reply.text("Noted."),
    )
    for text in ("My dog is Rex.", "Remember it."):
        sent = client.post(
            f"/v1/agents/{alpha}/messages", json={"messages": [{"role": "user", "content": text}]}
        )
        assert sent.status_code == 200, sent.text
    client.post(f"/v1/agents/{alpha}/archival-memory", json={"text": "Rex likes the beach."})
    return {"agents": agents, "shared": shared}


def snapshot(client: httpx.Client, agent_ids: list[str]) -> dict[str, Any]:
    return {
        agent_id: {
            "agent": client.get(f"/v1/agents/{agent_id}").json(),
            "messages": client.get(
                f"/v1/agents/{agent_id}/messages", params={"limit": 1000}
            ).json(),
            "passages": client.get(f"/v1/agents/{agent_id}/archival-memory").json(),
        }
        for agent_id in agent_ids
    }


@pytest.fixture
def populated(fake_llm: FakeLLM, tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    source = EngramServer(tmp_path / "source", fake_llm.base_url)
    source.start()
    try:
        with source.client() as client:
            made = populate(client, fake_llm)
            ids = [agent["id"] for agent in made["agents"]]
            made["before"] = snapshot(client, ids)
    finally:
        source.stop()
    yield source.data_dir, made


def target_for(backend: Backend, tmp_path: Path) -> str:
    """An empty database on the backend under test: PostgreSQL is the move users make."""
    return backend.database_url() or f"sqlite:///{tmp_path / 'target' / 'engram.db'}"


def test_a_populated_deployment_moves_and_serves_everything(
    populated: tuple[Path, dict[str, Any]], fake_llm: FakeLLM, tmp_path: Path, backend: Backend
) -> None:
    data_dir, made = populated
    target_url = target_for(backend, tmp_path)

    copied = run_cli("db", "migrate", "--to", target_url, "--data-dir", str(data_dir))

    assert copied.returncode == 0, copied.stderr
    assert "Copied and verified" in copied.stderr
    assert "messages" in copied.stdout and "passages" in copied.stdout

    target = EngramServer(tmp_path / "served", fake_llm.base_url, database_url=target_url)
    target.start()
    try:
        with target.client() as client:
            ids = [agent["id"] for agent in made["agents"]]
            assert snapshot(client, ids) == made["before"]
            alpha = ids[0]
            found = client.get(
                f"/v1/agents/{alpha}/archival-memory/search",
                params={"query": "Rex", "search_mode": "fts"},
            ).json()
            assert {hit["content"] for hit in found["results"]} >= {
                "The user's dog is Rex.",
                "Rex likes the beach.",
            }
            # New rows get new ids after the copied ones.
            fake_llm.script(reply.text("Still here."))
            sent = client.post(
                f"/v1/agents/{alpha}/messages",
                json={"messages": [{"role": "user", "content": "Hello again"}]},
            )
            assert sent.status_code == 200, sent.text
            history = client.get(f"/v1/agents/{alpha}/messages", params={"limit": 1000}).json()
            assert len(history) == len(made["before"][alpha]["messages"]) + 2
    finally:
        target.stop()


def test_a_target_with_data_is_refused_and_left_alone(
    populated: tuple[Path, dict[str, Any]], tmp_path: Path, backend: Backend
) -> None:
    data_dir, _ = populated
    target_url = target_for(backend, tmp_path)
    assert run_cli("db", "migrate", "--to", target_url, "--data-dir", str(data_dir)).returncode == 0

    again = run_cli("db", "migrate", "--to", target_url, "--data-dir", str(data_dir))

    assert again.returncode == 1
    assert "already holds data" in again.stderr
    assert "Traceback" not in again.stderr


def test_copying_a_database_onto_itself_is_refused(
    populated: tuple[Path, dict[str, Any]],
) -> None:
    data_dir, _ = populated
    same = f"sqlite:///{data_dir / 'engram.db'}"

    refused = run_cli("db", "migrate", "--to", same, "--data-dir", str(data_dir))

    assert refused.returncode == 1
    assert "same database" in refused.stderr


def test_an_unreachable_target_is_a_clean_error(populated: tuple[Path, dict[str, Any]]) -> None:
    data_dir, _ = populated

    refused = run_cli(
        "db", "migrate", "--to", "postgresql://engram@127.0.0.1:1/none", "--data-dir", str(data_dir)
    )

    assert refused.returncode == 1
    assert "Not copied" in refused.stderr and "Traceback" not in refused.stderr
