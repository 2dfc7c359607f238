"""Hybrid archival search latency at 10,000 passages per agent, on a long conversation.

Why: scoring BM25 inside the agent's scope reads each query term's rows from the
full-text index; a common word ("2023" in every dated turn) has thousands. This times
``archival.search_scope`` in-process, as the server runs it (query embedding excluded:
that is the embedding model's cost, measured by ``embedding_speed.py``), on the SQLite
data dir left by ``memory_eval.py --long --keep-server``, after copying the agent's 3,000
passages (text, embedding, date) up to ``--size`` rows.

    .venv/bin/python bench/memory_search_latency.py /tmp/engram-memory-eval-XXXX [--size 10000]

It writes to the data dir's database: point it at a copy you do not need.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.memory_eval_long_data import build_long_set  # noqa: E402
from engram.memory import archival  # noqa: E402
from engram.memory.local_embedding import shared_local_model  # noqa: E402
from engram.store import db, passages  # noqa: E402
from engram.store import tables as t  # noqa: E402
from engram.store.vectors import VectorIndex  # noqa: E402

COLUMNS = "text, tags, metadata, embedding_handle, embedding_dim, embedding, created_at"


def grow(session: Session, agent_id: str, size: int) -> None:
    """Copy the agent's passages until it has ``size``."""
    have = session.scalar(select(func.count()).where(t.Passage.agent_id == agent_id)) or 0
    copies = 0
    while have < size:
        copies += 1
        session.execute(
            text(
                f"INSERT INTO passages (id, agent_id, {COLUMNS}) "
                f"SELECT id || '-c{copies}', agent_id, {COLUMNS} FROM passages "
                f"WHERE agent_id = :agent AND id NOT LIKE '%-c%' LIMIT :n"
            ),
            {"agent": agent_id, "n": size - have},
        )
        have = session.scalar(select(func.count()).where(t.Passage.agent_id == agent_id)) or 0
    session.commit()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    queries = [q.text for q in build_long_set(args.seed).questions]
    vectors = shared_local_model().embed_sync(queries).tolist()
    engine = db.make_engine(f"sqlite:///{args.data_dir / 'engram.db'}")
    with Session(engine) as session:
        agent_id = session.scalars(select(t.Agent.id)).first()
        assert agent_id is not None
        grow(session, agent_id, args.size)
        index = VectorIndex()
        scope = passages.scope_of_agent(session, agent_id)
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        for mode in ("hybrid", "fts", "vector"):
            archival.search_scope(session, index, scope, queries[0], vectors[0], mode=mode)
            times, cpu = [], []
            for query, vector in zip(queries, vectors, strict=True):
                started, used = time.perf_counter(), time.process_time()
                archival.search_scope(session, index, scope, query, vector, mode=mode)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - used) * 1000)
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            print(
                f"{mode}: {args.size} passages, {len(times)} queries, "
                f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
                f"CPU p50 {statistics.median(cpu):.1f} ms (wall time counts other "
                "processes' load; CPU time is this search's own work)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
