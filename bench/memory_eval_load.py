"""Putting the memory evaluation's histories into a server, through its API only.

Conversation history goes in as an agent file (``POST /v1/agents/import``), so old
sessions keep their times and no LLM is needed; the notes go in one by one through
``POST /v1/agents/{id}/archival-memory``.  Message embeddings are then computed by the
server's background recall indexer, which ``wait_for_embeddings`` waits out.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.memory_eval_data import UserHistory

# An explicit config, so creating the agents never asks a provider for its models.
LLM_CONFIG = {"model": "gpt-4o-mini", "model_endpoint_type": "openai", "context_window": 128000}
WINDOW = 20  # messages left in the agent's context window; the rest live in recall only
STALL_SECONDS = 30.0  # no embedding progress for this long: the indexer is not working on them


class IndexStalled(RuntimeError):
    """Raised when messages wait for embeddings and none has been computed for a while."""


def say(message: str) -> None:
    """Progress goes to stderr so stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class LoadedUser:
    """A user's history as stored: agent id, and fact key -> stored message / passage id."""

    history: UserHistory
    agent_id: str
    messages: dict[str, str]
    passages: dict[str, str]


def agent_file(history: UserHistory) -> dict[str, Any]:
    """The history as an agent file: every message with its original time, the newest few
    in the context window."""
    messages = [
        {"id": f"m{i}", "role": turn.role, "content": turn.text, "created_at": turn.at.isoformat()}
        for i, turn in enumerate(history.turns)
    ]
    agent = {
        "id": "agent-memory-eval",
        "name": history.name,
        "llm_config": LLM_CONFIG,
        "messages": messages,
        "in_context_message_ids": [m["id"] for m in messages[-WINDOW:]],
    }
    return {"agents": [agent]}


def stored_messages(client: httpx.Client, agent_id: str) -> list[dict[str, Any]]:
    """Every message of the agent, oldest first, following the list's cursor."""
    found: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"order": "asc", "limit": 1000}
        if found:
            params["after"] = found[-1]["id"]
        page = client.get(f"/v1/agents/{agent_id}/messages", params=params)
        page.raise_for_status()
        found.extend(page.json())
        if len(page.json()) < 1000:
            return found


def load_user(client: httpx.Client, history: UserHistory) -> LoadedUser:
    """Import the history, then post the notes; the fact keys are mapped to the new ids.

    Raises RuntimeError if the server stored the messages in another order or shape than
    the file's, since every later score would then point at the wrong message."""
    document = json.dumps(agent_file(history))
    response = client.post(
        "/v1/agents/import",
        files={"file": (f"{history.name}.af", document, "application/json")},
        data={"name": f"memory-eval-{history.name}"},
    )
    response.raise_for_status()
    agent_id = response.json()["agent_ids"][0]
    stored = stored_messages(client, agent_id)
    if [m["content"] for m in stored] != [turn.text for turn in history.turns]:
        raise RuntimeError(f"agent {agent_id}: stored messages differ from the imported file")
    message_ids = {
        turn.key: row["id"] for turn, row in zip(history.turns, stored, strict=True) if turn.key
    }
    passage_ids: dict[str, str] = {}
    for note in history.notes:
        body = {"text": note.text, "tags": list(note.tags), "created_at": note.at.isoformat()}
        posted = client.post(f"/v1/agents/{agent_id}/archival-memory", json=body)
        posted.raise_for_status()
        if note.key:
            passage_ids[note.key] = posted.json()[0]["id"]
    return LoadedUser(history, agent_id, message_ids, passage_ids)


def wait_for_embeddings(client: httpx.Client, agent_ids: Sequence[str], timeout: float) -> float:
    """Poll ``/recall-index`` until no message waits for its embedding; returns seconds.

    Raises IndexStalled if no embedding is computed for ``STALL_SECONDS``, RuntimeError if
    indexing is switched off or does not finish within ``timeout``."""
    started = time.perf_counter()
    last_report = 0.0
    progress = (-1, started)  # (embedded count, when it last changed)
    while True:
        status = [
            client.get(f"/v1/agents/{agent_id}/recall-index").raise_for_status().json()
            for agent_id in agent_ids
        ]
        if not all(s.get("enabled", True) for s in status):
            raise RuntimeError(
                "message embeddings are off on this server: start it with "
                "ENGRAM_RECALL_EMBEDDINGS=true"
            )
        total = sum(s["messages"] for s in status)
        embedded = sum(s["embedded"] for s in status)
        pending = sum(s["pending"] for s in status)
        elapsed = time.perf_counter() - started
        if pending == 0:
            say(f"  embedded {embedded}/{total} messages in {elapsed:.1f} s")
            return elapsed
        if embedded != progress[0]:
            progress = (embedded, time.perf_counter())
        if elapsed > timeout:
            raise RuntimeError(
                f"{pending} messages still unembedded after {timeout:.0f} s: raise --index-timeout"
            )
        if time.perf_counter() - progress[1] > STALL_SECONDS:
            raise IndexStalled(
                f"no message embedded for {STALL_SECONDS:.0f} s ({embedded}/{total}, "
                f"{pending} pending): the server's recall indexer is not picking them up"
            )
        if elapsed - last_report >= 5:
            say(f"  embedding messages: {embedded}/{total} ({pending} pending)")
            last_report = elapsed
        time.sleep(0.5)
