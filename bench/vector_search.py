"""Archival search at scale: latency and recall@10 of Engram's vector search.

Why: archival memory grows without bound, and the two backends search it differently.
SQLite keeps each agent's embeddings as an in-memory matrix and searches exactly;
PostgreSQL searches in SQL through a pgvector HNSW index, which is approximate. This
prints, per corpus size, what a search costs (median and p95 over ``--queries`` queries
after a warm-up) and how many of the true 10 nearest passages it returns, against the
target for PostgreSQL at a million passages: median under 50 ms, recall@10 at least 0.95.
Run it from the repository root:

    .venv/bin/python bench/vector_search.py --backend sqlite --sizes 10000,100000
    .venv/bin/python bench/vector_search.py --backend postgres --sizes 10000,100000,1000000

What is measured is the server's own path: ``engram.memory.archival.search`` with
``mode="vector"`` (and, for latency only, ``"hybrid"``), run as the server runs it, in
``await Database.read(...)`` on a reader thread with the process's ``VectorIndex``. The
data is synthetic (see ``vector_search_data.py``), one agent owning N passages (or, with
``--agents``, a share of them), loaded straight into a fresh database through Engram's
schema (``vector_search_store.py``).
Exact answers come from brute-force cosine over the same float32 vectors in NumPy.

Columns: load s (inserting the rows), index s (HNSW build after the load; PostgreSQL
only), warm-up ms (the first search: on SQLite it reads the agent's matrix from the
table, on PostgreSQL it meets a cold index), median and p95 ms of the searches after it,
recall@10. On PostgreSQL, if recall@10 misses the target at Engram's ``hnsw.ef_search``,
the search is repeated with larger values (patched into ``store/pg_vectors.py`` for this
process only) to show what reaching it would cost; ``--ef-search`` picks them by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `bench` and `engram` live in the checkout
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.vector_search_data import Mixture, describe, exact_top_k  # noqa: E402
from bench.vector_search_store import (  # noqa: E402
    Loaded,
    PostgresTarget,
    SqliteTarget,
    build_index,
    database_mib,
    load,
    reopen,
    say,
)
from engram.memory import archival  # noqa: E402
from engram.memory.ranking import SearchMode  # noqa: E402
from engram.store.db import Database  # noqa: E402
from engram.store.vectors import VectorIndex  # noqa: E402

K = 10
WARM_QUERIES = 20
TARGET_MEDIAN_MS = 50.0
TARGET_RECALL = 0.95
EF_SEARCH_LADDER = (200, 400, 800)


@dataclass
class Timing:
    """One kind of search over the query set: latencies after warm-up, and recall."""

    label: str
    warmup_ms: float
    latencies_ms: list[float]
    recall: float | None
    ef_search: str | None = None

    @property
    def median_ms(self) -> float:
        return float(np.median(self.latencies_ms))

    @property
    def p95_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 95))


@dataclass
class SizeResult:
    size: int
    load_seconds: float | None
    index_seconds: float | None
    database_mib: float
    profile: str
    timings: list[Timing] = field(default_factory=list)
    load_average: float = 0.0
    """The 1-minute load average after the searches: latency on a shared box depends on it."""


@dataclass
class Queries:
    """Query vectors and texts, split into the warm-up set and the measured set."""

    warm_vectors: np.ndarray
    warm_texts: list[str]
    vectors: np.ndarray
    texts: list[str]


class Searcher:
    """Runs archival searches the way the API route does: one ``Database.read`` each."""

    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.db = Database(loaded.url)
        self.index = VectorIndex()

    async def search(
        self, vector: np.ndarray, query: str, mode: SearchMode, *, show_ef: bool = False
    ) -> tuple[list[int], str | None]:
        """Passage seqs found, best first, and (if asked) the ef_search the search ran with."""
        as_list = vector.tolist()

        def work(session: Session) -> tuple[list[int], str | None]:
            hits = archival.search(
                session, self.index, self.loaded.agent_id, query, as_list, top_k=K, mode=mode
            )
            ef = None
            if show_ef and session.get_bind().dialect.name == "postgresql":
                # SET LOCAL in the search lasts until the read's transaction ends.
                ef = str(session.execute(text("SHOW hnsw.ef_search")).scalar())
            return [hit.passage.seq for hit in hits], ef

        return await self.db.read(work)

    async def close(self) -> None:
        await self.db.dispose()


async def time_searches(
    searcher: Searcher,
    label: str,
    queries: Queries,
    mode: SearchMode,
    truth: np.ndarray | None,
    count: int,
) -> Timing:
    """The first search alone (warm-up), more warm-up searches, then ``count`` timed ones."""
    started = time.perf_counter()
    _, ef = await searcher.search(
        queries.warm_vectors[0], queries.warm_texts[0], mode, show_ef=True
    )
    warmup_ms = (time.perf_counter() - started) * 1000
    for vector, query in zip(queries.warm_vectors[1:], queries.warm_texts[1:], strict=True):
        await searcher.search(vector, query, mode)
    latencies: list[float] = []
    overlaps: list[int] = []
    for i in range(count):
        started = time.perf_counter()
        found, _ = await searcher.search(queries.vectors[i], queries.texts[i], mode)
        latencies.append((time.perf_counter() - started) * 1000)
        if truth is not None:
            rows = np.searchsorted(searcher.loaded.seqs, np.asarray(found, dtype=np.int64))
            overlaps.append(len(set(rows.tolist()) & set(truth[i].tolist())))
    recall = sum(overlaps) / (K * count) if truth is not None else None
    return Timing(label, warmup_ms, latencies, recall, ef)


@contextmanager
def ef_search_override(value: int) -> Iterator[bool]:
    """Make the PostgreSQL search use ``hnsw.ef_search = value``; yields False when this
    Engram version chooses ef_search some other way (then nothing is overridden)."""
    try:
        from engram.store import pg_vectors
    except ImportError:
        yield False
        return
    names = ("MIN_EF_SEARCH", "MAX_EF_SEARCH")
    if not all(hasattr(pg_vectors, name) for name in names):
        yield False
        return
    saved = {name: getattr(pg_vectors, name) for name in names}
    for name in names:
        setattr(pg_vectors, name, value)
    try:
        yield True
    finally:
        for name, old in saved.items():
            setattr(pg_vectors, name, old)


async def measure(
    searcher: Searcher, queries: Queries, truth: np.ndarray, args: argparse.Namespace
) -> list[Timing]:
    timings = [await time_searches(searcher, "vector", queries, "vector", truth, args.queries)]
    if args.hybrid_queries:
        hybrid = await time_searches(
            searcher, "hybrid", queries, "hybrid", None, min(args.hybrid_queries, args.queries)
        )
        timings.append(hybrid)
    if args.backend != "postgres":
        return timings
    # Unless values were given, climb only as far as the target recall needs.
    recall = timings[0].recall or 0.0
    for ef in args.ef_search or EF_SEARCH_LADDER:
        if not args.ef_search and recall >= TARGET_RECALL:
            break
        with ef_search_override(ef) as applied:
            if not applied:
                say("  this Engram version sets ef_search elsewhere: no ef_search sweep")
                break
            say(f"  vector search with hnsw.ef_search = {ef}")
            timing = await time_searches(
                searcher, "vector*", queries, "vector", truth, args.queries
            )
            timings.append(timing)
            recall = timing.recall or 0.0
    return timings


def run_size(
    target: SqliteTarget | PostgresTarget,
    mixture: Mixture,
    queries: Queries,
    size: int,
    args: argparse.Namespace,
) -> SizeResult:
    say(f"{target.name} {size:,}: generating passages and exact answers")
    corpus = mixture.passages(size)
    # The searched agent owns every agents-th passage; only those can be its answers.
    owned = corpus.vectors[:: args.agents]
    truth = exact_top_k(owned, queries.vectors, K)
    profile = describe(owned, queries.vectors, truth, args.seed)
    del owned
    say(f"  {profile}")
    kept = target.existing(size) if args.reuse else None
    if kept is not None:
        say(f"  reusing {kept}: no load, no index build")
        loaded = reopen(kept, size, args.agents)
    else:
        loaded = load(target.fresh(size), corpus, args.seed, args.agents)
        say(f"  loaded in {loaded.load_seconds:,.1f} s")
    del corpus  # the ground truth is all that is needed from here on
    url = loaded.url

    async def session() -> tuple[float | None, list[Timing]]:
        searcher = Searcher(loaded)
        try:

            def first_search() -> None:
                # Engram builds a missing index from a search, on a thread of its own.
                future = asyncio.run_coroutine_threadsafe(
                    searcher.search(queries.warm_vectors[0], queries.warm_texts[0], "vector"),
                    loop,
                )
                future.result()

            loop = asyncio.get_running_loop()
            index_seconds = None
            if kept is None:
                index_seconds = await loop.run_in_executor(
                    None, build_index, loaded, first_search, args.index_timeout
                )
            if index_seconds is not None:
                say(f"  index ready in {index_seconds:,.1f} s")
            return index_seconds, await measure(searcher, queries, truth, args)
        finally:
            await searcher.close()

    index_seconds, timings = asyncio.run(session())
    result = SizeResult(size, loaded.load_seconds, index_seconds, database_mib(url), profile)
    result.timings = timings
    result.load_average = os.getloadavg()[0]
    if not args.keep:
        target.drop(url)
    return result


def print_table(backend: str, detail: str, results: list[SizeResult], queries: int) -> None:
    print(f"\n{backend} ({detail}), {os.cpu_count()} CPUs, {queries} queries, top_k={K}")
    header = (
        f"{'size':>9} {'search':<8} {'ef_search':>9} {'load s':>8} {'index s':>8} "
        f"{'DB MiB':>8} {'warm-up ms':>10} {'median ms':>9} {'p95 ms':>8} {'recall@10':>9}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        index = f"{result.index_seconds:,.1f}" if result.index_seconds is not None else "-"
        load_s = f"{result.load_seconds:,.1f}" if result.load_seconds is not None else "-"
        once = [f"{result.size:,}", load_s, index]
        once.append(f"{result.database_mib:,.0f}")
        for timing in result.timings:
            size, load_s, index_s, mib = once
            recall = f"{timing.recall:.3f}" if timing.recall is not None else "-"
            print(
                f"{size:>9} {timing.label:<8} {timing.ef_search or '-':>9} {load_s:>8} "
                f"{index_s:>8} {mib:>8} {timing.warmup_ms:>10.1f} {timing.median_ms:>9.2f} "
                f"{timing.p95_ms:>8.2f} {recall:>9}"
            )
            once = ["", "", "", ""]
    if any(timing.label.endswith("*") for result in results for timing in result.timings):
        print("* ef_search overridden in this process, to show the cost of more recall")
    target = f"median < {TARGET_MEDIAN_MS:.0f} ms, recall@10 >= {TARGET_RECALL}"
    print(f"target (postgres, 1M): {target}")
    for result in results:
        print(
            f"data {result.size:,}: {result.profile}; "
            f"load average {result.load_average:.1f} after the searches"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--sizes",
        help="comma-separated passage counts (default 10000,100000; with postgres also 1000000)",
    )
    parser.add_argument("--queries", type=int, default=200, help="timed searches per size")
    parser.add_argument(
        "--hybrid-queries", type=int, default=50, help="timed hybrid searches (0: none)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--agents",
        type=int,
        default=1,
        help="share each size's passages round-robin among this many agents and search the "
        "first (default 1: one agent owns them all)",
    )
    parser.add_argument(
        "--ef-search",
        type=lambda value: [int(part) for part in value.split(",") if part],
        default=[],
        help="postgres: also search with these hnsw.ef_search values (comma-separated)",
    )
    parser.add_argument("--dir", type=Path, help="where databases go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="search the databases a --keep run left in --dir (same seed) instead of loading",
    )
    parser.add_argument(
        "--maintenance-work-mem",
        default="4GB",
        help="postgres: memory for the HNSW build (a 1M x 384 graph needs about 2.5 GB)",
    )
    parser.add_argument("--index-timeout", type=float, default=3 * 3600.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.reuse and args.dir is None:
        parser.error("--reuse needs the --dir of an earlier --keep run")
    args.keep = args.keep or args.reuse
    default_sizes = "10000,100000" + (",1000000" if args.backend == "postgres" else "")
    args.sizes = [int(size) for size in (args.sizes or default_sizes).split(",")]
    return args


def main() -> None:
    args = parse_args()
    mixture = Mixture(args.seed)
    vectors, texts = mixture.queries(WARM_QUERIES + args.queries)
    queries = Queries(
        vectors[:WARM_QUERIES], texts[:WARM_QUERIES], vectors[WARM_QUERIES:], texts[WARM_QUERIES:]
    )
    target: SqliteTarget | PostgresTarget
    if args.backend == "postgres":
        target = PostgresTarget(args.dir, args.maintenance_work_mem)
        detail = f"PostgreSQL {target.version}, pgvector HNSW"
    else:
        target = SqliteTarget(args.dir)
        detail = "exact in-memory VectorIndex"
    if args.agents > 1:
        detail += f"; {args.agents} agents share the passages, the searched one owns every "
        detail += f"{args.agents}th (size is the table's)"
    try:
        results = [run_size(target, mixture, queries, size, args) for size in args.sizes]
    finally:
        target.close(args.keep)
    print_table(args.backend, detail, results, args.queries)
    if args.json:
        payload = [
            {
                **{k: v for k, v in asdict(result).items() if k != "timings"},
                "timings": [
                    {
                        "label": timing.label,
                        "ef_search": timing.ef_search,
                        "warmup_ms": timing.warmup_ms,
                        "median_ms": timing.median_ms,
                        "p95_ms": timing.p95_ms,
                        "recall_at_10": timing.recall,
                    }
                    for timing in result.timings
                ],
            }
            for result in results
        ]
        document = {"backend": args.backend, "agents": args.agents, "results": payload}
        args.json.write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
