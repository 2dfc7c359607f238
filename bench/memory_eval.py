"""How well do an agent's memory searches find what it was told?

Why: ``conversation_search`` and ``archival_memory_search`` are how an agent gets back a
fact that left its context window, and hybrid ranking (keywords fused with meaning) is
only worth its cost if it finds more than either ranking alone.  This bench measures that
on synthetic users (``memory_eval_data``): weeks of chit-chat sessions with planted facts
(names, dates, preferences, codes, and updates whose older statement is a distractor),
stored in a real ``engram serve`` through the API, then asked about in two styles:

- keyword: a name or code as an agent would type it ("ticket ZX-4471");
- paraphrase: the need in other words, sharing no keyword with the fact.

For every question, each store is searched in each mode (``fts``, ``vector``,
``hybrid``) and the question counts as recalled at k if the one statement it targets (the
newest, for an update) is among the first k results.  No LLM is involved: histories are
imported as agent files, notes posted to archival memory, and message embeddings come
from the server's background indexer with the local all-MiniLM-L6-v2 model.  Run from the
repository root with the project venv:

    .venv/bin/python bench/memory_eval.py [--users 3] [--sessions 20] [--seed 7]
        [--json results.json] [--keep-server] [--url http://127.0.0.1:8283]

The long-conversation set (``memory_eval_long_data``: a few thousand dated turns, scored
per question type for ``hybrid``, ``fts``, ``vector`` and a plain BM25 reference), on
SQLite or on a throwaway PostgreSQL, and the same evaluation of a user's own agent file:

    .venv/bin/python bench/memory_eval.py --long [--postgres] [--seed 7] [--long-sessions 60]
    .venv/bin/python bench/memory_eval.py --agent-file my.af --questions my.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `bench`, `tests.support` and `engram` live in the checkout
    sys.path.insert(0, str(ROOT))

from bench.memory_eval_chat_data import build_chat_set  # noqa: E402
from bench.memory_eval_data import Question, build_users  # noqa: E402
from bench.memory_eval_facts import KINDS  # noqa: E402
from bench.memory_eval_load import (  # noqa: E402
    WINDOW,
    LoadedUser,
    load_user,
    say,
    wait_for_embeddings,
)
from bench.memory_eval_long import Question as LongQuestion  # noqa: E402
from bench.memory_eval_long import markdown, read_questions, run_long  # noqa: E402
from bench.memory_eval_long_data import agent_file, build_long_set  # noqa: E402
from bench.memory_eval_report import print_report  # noqa: E402
from bench.memory_eval_rerank import (  # noqa: E402
    RERANKED,
    add_rerank_options,
    rerank_env,
    reranked_outcomes,
)
from tests.support.server import EngramServer  # noqa: E402

UNREACHABLE_LLM = "http://127.0.0.1:9/v1"  # nothing here calls a model; fail fast if it did
MODES = ("fts", "vector", "hybrid")
STORES = ("conversation_search", "archival_memory_search")
DEPTH = 10  # results asked for: recall@1, @5 and @10 all come from this one list


@dataclass(frozen=True)
class Outcome:
    """Where one search put the targeted statement (1-based rank, None if not returned),
    and the superseded statement of an update question."""

    store: str
    mode: str
    question: Question
    rank: int | None
    older_rank: int | None
    ms: float


# --------------------------------------------------------------------------- searching


def modes_served(client: httpx.Client) -> dict[str, tuple[str, ...]]:
    """The modes each store really distinguishes.  A server without them accepts the
    parameter (or ignores it) and answers one way: scoring its answer as three modes
    would mislabel the numbers."""
    spec = client.get("/openapi.json").raise_for_status().json()
    archival = spec["paths"]["/v1/agents/{agent_id}/archival-memory/search"]["get"]
    archival_modes = any(p["name"] == "search_mode" for p in archival.get("parameters", []))
    recall_vectors = "/v1/agents/{agent_id}/recall-index" in spec["paths"]
    return {
        "conversation_search": MODES if recall_vectors else ("fts",),
        "archival_memory_search": MODES if archival_modes else ("hybrid",),
    }


def search_ids(client: httpx.Client, store: str, agent_id: str, query: str, mode: str) -> list[str]:
    """Ids of the stored statements a search returns, best first, each once."""
    if store == "conversation_search":
        body = {"query": query, "agent_id": agent_id, "search_mode": mode, "limit": DEPTH}
        found = client.post("/v1/messages/search", json=body).raise_for_status().json()
        ids = [hit["message_id"] for hit in found]
    else:
        params = {"query": query, "top_k": DEPTH, "search_mode": mode}
        path = f"/v1/agents/{agent_id}/archival-memory/search"
        found = client.get(path, params=params).raise_for_status().json()
        ids = [hit["id"] for hit in found["results"]]
    return list(dict.fromkeys(ids))


def rank_of(ids: Sequence[str], wanted: str | None) -> int | None:
    return ids.index(wanted) + 1 if wanted in ids else None


def older_key(question: Question) -> str | None:
    """The statement an update's target superseded, if it is an update."""
    stage = int(question.target.rsplit("#", 1)[1])
    return f"{question.topic}#{stage - 1}" if stage > 0 else None


def evaluate(
    client: httpx.Client, users: Sequence[LoadedUser], served: dict[str, tuple[str, ...]]
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for user in users:
        for store in STORES:
            stored = user.messages if store == "conversation_search" else user.passages
            for mode in served[store]:
                for question in user.history.questions:
                    started = time.perf_counter()
                    ids = search_ids(client, store, user.agent_id, question.text, mode)
                    ms = (time.perf_counter() - started) * 1000
                    older = older_key(question)
                    outcomes.append(
                        Outcome(
                            store,
                            mode,
                            question,
                            rank_of(ids, stored[question.target]),
                            rank_of(ids, stored.get(older)) if older else None,
                            ms,
                        )
                    )
        say(f"  searched {user.history.name}")
    return outcomes


# --------------------------------------------------------------------------- scoring


def recall_at(outcomes: Iterable[Outcome], k: int) -> float:
    """Share of the searches that returned their target within the first ``k``."""
    ranks = [o.rank for o in outcomes]
    if not ranks:
        return math.nan
    return sum(1 for rank in ranks if rank is not None and rank <= k) / len(ranks)


def stale_share(outcomes: Iterable[Outcome]) -> float:
    """Share of update searches that ranked the superseded statement above the newest."""
    updates = [o for o in outcomes if o.question.kind == "update"]
    if not updates:
        return math.nan
    stale = sum(
        1 for o in updates if o.older_rank is not None and (o.rank is None or o.older_rank < o.rank)
    )
    return stale / len(updates)


def summarize(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """One row per store and mode: recall@k overall, per style and per kind, timings."""
    rows = []
    for store in STORES:
        for mode in (*MODES, RERANKED):
            mine = [o for o in outcomes if o.store == store and o.mode == mode]
            if not mine:
                continue
            row: dict[str, Any] = {"store": store, "mode": mode, "searches": len(mine)}
            for style in ("all", "keyword", "paraphrase"):
                subset = [o for o in mine if style == "all" or o.question.style == style]
                for k in (1, 5, DEPTH):
                    row[f"{style}@{k}"] = recall_at(subset, k)
            for kind in KINDS:
                row[f"{kind}@5"] = recall_at([o for o in mine if o.question.kind == kind], 5)
            row["stale_first"] = stale_share(mine)
            row["median_ms"] = statistics.median(o.ms for o in mine)
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- main


def run(client: httpx.Client, args: argparse.Namespace) -> dict[str, Any]:
    """Build, load, wait for the embeddings, search and score."""
    timings: dict[str, float] = {}
    notes: list[str] = []
    started = time.perf_counter()
    histories = build_users(args.users, args.sessions, args.seed)
    timings["generate"] = time.perf_counter() - started

    say(f"loading {args.users} users ...")
    started = time.perf_counter()
    users = []
    for history in histories:
        users.append(load_user(client, history))
        say(f"  {history.name}: {len(history.turns)} messages, {len(history.notes)} passages")
    timings["load"] = time.perf_counter() - started

    served = modes_served(client)
    if len(served["conversation_search"]) > 1:
        agent_ids = [u.agent_id for u in users]
        timings["embed wait"] = wait_for_embeddings(client, agent_ids, args.index_timeout)
    say("searching ...")
    started = time.perf_counter()
    reranked = reranked_outcomes(client, users, args, evaluate, notes)
    outcomes = evaluate(client, users, served) + reranked
    timings["search"] = time.perf_counter() - started
    return {
        "seed": args.seed,
        "users": args.users,
        "sessions": args.sessions,
        "messages": sum(len(h.turns) for h in histories),
        "window": WINDOW * len(histories),
        "passages": sum(len(h.notes) for h in histories),
        "questions": sum(len(h.questions) for h in histories),
        "served": served,
        "rows": summarize(outcomes),
        "timings": timings,
        "notes": notes,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=3, help="agents, one synthetic user each")
    parser.add_argument("--sessions", type=int, default=20, help="sessions per user")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--index-timeout", type=float, default=600.0, help="seconds")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--url", help="evaluate a running server instead of starting one")
    parser.add_argument(
        "--keep-server", action="store_true", help="leave the started server running"
    )
    add_rerank_options(parser)
    parser.add_argument("--long", action="store_true", help="the long-conversation set")
    parser.add_argument("--long-sessions", type=int, default=60, help="sessions of --long")
    parser.add_argument(
        "--chat", action="store_true", help="the two-friends long conversation (keyword-heavy)"
    )
    parser.add_argument("--agent-file", type=Path, help="evaluate this exported agent (.af)")
    parser.add_argument("--questions", type=Path, help="questions for --agent-file (JSON lines)")
    parser.add_argument(
        "--postgres", action="store_true", help="serve from a throwaway PostgreSQL (pgserver)"
    )
    args = parser.parse_args(argv)
    if bool(args.agent_file) != bool(args.questions):
        parser.error("--agent-file and --questions go together")
    if args.users < 1:
        parser.error("--users must be at least 1")
    if args.sessions < 2:
        parser.error("--sessions must be at least 2: an update is said in two sessions")
    return args


def long_inputs(args: argparse.Namespace) -> tuple[dict[str, Any], list[LongQuestion]]:
    """The agent file and questions: the user's, or the generated long conversation."""
    if args.agent_file:
        return json.loads(args.agent_file.read_text()), read_questions(args.questions)
    if args.chat:
        data = build_chat_set(args.seed, args.long_sessions)
    else:
        data = build_long_set(args.seed, args.long_sessions)
    questions = [LongQuestion(q.text, q.kind, q.evidence) for q in data.questions]
    return agent_file(data), questions


def main_long(args: argparse.Namespace) -> int:
    document, questions = long_inputs(args)
    began = time.perf_counter()
    try:
        if args.url:
            with httpx.Client(base_url=args.url.rstrip("/"), timeout=120) as client:
                results = run_long(client, document, questions, index_timeout=args.index_timeout)
        else:
            results = with_own_server(
                args,
                lambda client: run_long(
                    client, document, questions, index_timeout=args.index_timeout
                ),
            )
    except (RuntimeError, httpx.HTTPError) as exc:
        say(f"memory eval failed: {exc}")
        return 1
    results["timings"]["total"] = time.perf_counter() - began
    results["database"] = "postgresql" if args.postgres else "sqlite"
    print(f"database: {results['database']}, questions: {results['questions']}")
    print(markdown(results["rows"]))
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in results["timings"].items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.long or args.chat or args.agent_file:
        return main_long(args)
    began = time.perf_counter()
    try:
        if args.url:
            with httpx.Client(base_url=args.url.rstrip("/"), timeout=120) as client:
                results = run(client, args)
        else:
            results = run_on_own_server(args)
    except (RuntimeError, httpx.HTTPError) as exc:
        say(f"memory eval failed: {exc}")
        return 1
    results["timings"]["total"] = time.perf_counter() - began
    results["cpus"] = os.cpu_count()
    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


def run_on_own_server(args: argparse.Namespace) -> dict[str, Any]:
    return with_own_server(args, lambda client: run(client, args))


def with_own_server(
    args: argparse.Namespace, body: Callable[[httpx.Client], dict[str, Any]]
) -> dict[str, Any]:
    """``body`` against a fresh server on a temporary data dir (and, with ``--postgres``,
    a throwaway PostgreSQL), removed afterwards unless ``--keep-server`` asks to look
    around in it."""
    data_dir = Path(tempfile.mkdtemp(prefix="engram-memory-eval-"))
    cluster = None
    database_url = None
    if args.postgres:
        from tests.support.postgres import PostgresCluster

        cluster = PostgresCluster()
        database_url = cluster.new_database("memory_eval")
    env = {"ENGRAM_WARM_EMBEDDINGS": "true", **rerank_env(args)}
    server = EngramServer(data_dir, UNREACHABLE_LLM, env, database_url=database_url)
    say(f"starting engram serve on {data_dir} ...")
    server.start(timeout=60)
    try:
        with httpx.Client(base_url=server.base_url, timeout=120) as client:
            return body(client)
    finally:
        if args.keep_server and server.process is not None:
            say(f"server left running at {server.base_url} (pid {server.process.pid}, {data_dir})")
        else:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
            if cluster is not None:
                cluster.close()


if __name__ == "__main__":
    sys.exit(main())
