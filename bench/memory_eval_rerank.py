"""``memory_eval.py --rerank``: the same questions asked of the reranked search.

Reranking is the server's (``ENGRAM_RERANKER_*``, docs/memory.md "Reranking"), so the
bench compares on one server: each agent's hybrid searches are run once with reranking on
(mode ``reranked``), then the agents opt out (``metadata.rerank = false``) for the plain
modes. ``--rerank URL`` points the bench's own server at a reranking server (with
``--rerank-kind``, ``--rerank-model``, ``--rerank-key``); ``--rerank overlap`` starts a
stand-in on a loopback port that scores by shared words (tests/fakes/reranker.py): no
model, but the stage's own cost (sending 50 candidates and reordering them) shows in the
``median ms`` column. Against ``--url``, the running server's reranker is used, if any.
"""

from __future__ import annotations

import argparse
import atexit
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import httpx

from bench.memory_eval_load import LoadedUser

RERANKED = "reranked"
STAND_IN = "overlap"
HEADER = "X-Engram-Rerank"


def add_rerank_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reranking (docs/memory.md, Reranking)")
    group.add_argument(
        "--rerank",
        metavar="URL",
        help=f"also score the reranked search, with the reranking server at URL ('{STAND_IN}': "
        "a word-overlap stand-in on loopback); with --url, the server's own reranker",
    )
    group.add_argument("--rerank-kind", default="tei", help="cohere, jina, voyage, tei, vllm")
    group.add_argument("--rerank-model", help="the model the reranking server should use")
    group.add_argument("--rerank-key", help="the reranking server's API key")


def rerank_env(args: argparse.Namespace) -> dict[str, str]:
    """The bench's own server's settings for ``--rerank`` (none without it)."""
    if not args.rerank:
        return {}
    url = args.rerank
    if url == STAND_IN:
        from tests.fakes.reranker import FakeReranker

        stand_in = FakeReranker()
        atexit.register(stand_in.close)
        url = stand_in.base_url
    env = {"ENGRAM_RERANKER_URL": url, "ENGRAM_RERANKER_KIND": args.rerank_kind}
    if args.rerank_model:
        env["ENGRAM_RERANKER_MODEL"] = args.rerank_model
    if args.rerank_key:
        env["ENGRAM_RERANKER_API_KEY"] = args.rerank_key
    return env


Evaluate = Callable[[httpx.Client, Sequence[LoadedUser], dict[str, tuple[str, ...]]], list[Any]]


def reranked_outcomes(
    client: httpx.Client,
    users: Sequence[LoadedUser],
    args: argparse.Namespace,
    evaluate: Evaluate,
    notes: list[str],
) -> list[Any]:
    """Outcomes of every question asked of the reranked hybrid search (mode ``reranked``),
    leaving every agent opted out of reranking for the plain modes asked next. Nothing
    without ``--rerank``."""
    if not args.rerank:
        return []
    agent_ids = [user.agent_id for user in users]
    _switch(client, agent_ids, on=True)
    if not _reranks(client, agent_ids[0]):
        notes.append("--rerank: this server has no reranker; 'reranked' is its hybrid search")
    served = {"conversation_search": ("hybrid",), "archival_memory_search": ("hybrid",)}
    try:
        outcomes = evaluate(client, users, served)
    finally:
        _switch(client, agent_ids, on=False)
    return [replace(outcome, mode=RERANKED) for outcome in outcomes]


def _switch(client: httpx.Client, agent_ids: Sequence[str], *, on: bool) -> None:
    for agent_id in agent_ids:
        metadata = client.get(f"/v1/agents/{agent_id}").raise_for_status().json()["metadata"]
        changed = {**(metadata or {}), "rerank": on}
        client.patch(f"/v1/agents/{agent_id}", json={"metadata": changed}).raise_for_status()


def _reranks(client: httpx.Client, agent_id: str) -> bool:
    path = f"/v1/agents/{agent_id}/archival-memory/search"
    response = client.get(path, params={"query": "probe"}).raise_for_status()
    return response.headers.get(HEADER, "").startswith("reranked")
