"""Waiting for the background recall indexer, for tests that search messages by meaning."""

from __future__ import annotations

import time
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
