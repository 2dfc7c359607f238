"""Waiting for the background recall indexer, for tests that search messages by meaning."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx


def wait_until_indexed(api: httpx.Client, agent_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """The agent's recall-index status once every embeddable message has its embedding."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/v1/agents/{agent_id}/recall-index")
        assert response.status_code == 200, response.text
        status = response.json()
        if status["pending"] == 0 and status["messages"] > 0:
            return status
        assert time.monotonic() < deadline, f"messages never got embedded: {status}"
        time.sleep(0.05)


def import_history(
    api: httpx.Client, said: Sequence[tuple[datetime, str]], name: str = "history"
) -> str:
    """An imported agent whose history is ``said`` (user messages written at those
    times), once every message has its embedding: how a test gets a dated history, which
    sending messages cannot give (they are written now)."""
    messages = [
        {"id": f"m{i}", "role": "user", "content": text, "created_at": at.isoformat()}
        for i, (at, text) in enumerate(said)
    ]
    llm_config = {"model": "gpt-4o-mini", "model_endpoint_type": "openai", "context_window": 128000}
    agent = {
        "id": f"agent-{name}",
        "name": name,
        "llm_config": llm_config,
        "messages": messages,
        "in_context_message_ids": [],
    }
    response = api.post(
        "/v1/agents/import",
        files={"file": (f"{name}.af", json.dumps({"agents": [agent]}), "application/json")},
    )
    assert response.status_code == 200, response.text
    agent_id = str(response.json()["agent_ids"][0])
    wait_until_indexed(api, agent_id)
    return agent_id
