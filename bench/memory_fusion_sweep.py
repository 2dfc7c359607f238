"""How the hybrid fusion's constants were chosen: a sweep over a stored long conversation.

Why: ``ranking.blend`` has a keyword weight, a "clear keyword hit" threshold, the keyword
side's weighting by its lead (``by_lead``) and BM25's ``b``; picking them by feel is how
a fusion ends up worse than its own halves. This script reads a data dir left by
``memory_eval.py --long --keep-server`` (SQLite), computes each question's keyword and
vector lists once per BM25 setting, as deep as the bench's searches read them, and scores
every blend setting in-process on archival or recall search (``--store``), per question
type (time questions are left to the full bench: their date handling sits above the
fusion).

    .venv/bin/python bench/memory_fusion_sweep.py /tmp/engram-memory-eval-XXXX [--seed 7]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.memory_eval_long import score  # noqa: E402
from bench.memory_eval_long_data import build_long_set  # noqa: E402
from engram.memory import ranking  # noqa: E402
from engram.memory.local_embedding import shared_local_model  # noqa: E402
from engram.ops.messages import SEARCHABLE_ROLES  # noqa: E402
from engram.store import db, keyword_scores, messages, passages  # noqa: E402
from engram.store import tables as t  # noqa: E402
from engram.store.vector_sources import MESSAGES, PASSAGES  # noqa: E402
from engram.store.vectors import VectorIndex  # noqa: E402

DEPTH = 150
"""As deep as hybrid search reads each list for the bench's requests of 50 results."""


def lists(
    session: Session,
    agent_id: str,
    questions: Sequence[str],
    vectors: Sequence[list[float]],
    store: str,
) -> list[tuple[list[tuple[int, float]], list[tuple[int, float]]]]:
    scope = passages.scope_of_agent(session, agent_id)
    index = VectorIndex(MESSAGES if store == "recall" else PASSAGES)
    found = []
    for query, vector in zip(questions, vectors, strict=True):
        if store == "recall":
            keyword = messages.search_scored(
                session, agent_id, query, roles=SEARCHABLE_ROLES, limit=DEPTH
            )
            allowed = messages.filtered_seqs(session, agent_id, roles=SEARCHABLE_ROLES)
            nearest = index.nearest(session, [agent_id], vector, DEPTH, allowed)
        else:
            keyword = passages.keyword_scored(session, scope, query, DEPTH)
            nearest = index.nearest(session, scope.owners, vector, DEPTH)
        found.append((keyword, nearest))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--store", choices=("archival", "recall"), default="archival")
    args = parser.parse_args(argv)
    data = build_long_set(args.seed, args.sessions)
    questions = [q for q in data.questions if q.kind != "time"]
    engine = db.make_engine(f"sqlite:///{args.data_dir / 'engram.db'}")
    vectors = shared_local_model().embed_sync([q.text for q in questions]).tolist()
    with Session(engine) as session:
        agent_id = session.scalars(select(t.Agent.id)).one()
        if args.store == "recall":
            texts = {row.seq: row.search_text or "" for row in session.scalars(select(t.Message))}
        else:
            texts = {row.seq: row.text for row in session.scalars(select(t.Passage))}
        print(
            "| b | keyword weight | clear lead | by lead | R@1 | R@5 | R@10 | MRR"
            " | worst type vs best half |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for b in (0.5, 0.75):
            keyword_scores.BM25_B = b
            found = lists(session, agent_id, [q.text for q in questions], vectors, args.store)
            grid = itertools.product((0.2, 0.3, 0.4, 0.5, 0.6), (1.25, 99.0), (False, True))
            for weight, lead, by_lead in grid:
                ranking.CLEAR_LEAD = lead
                rows = {"hybrid": [], "fts": [], "vector": []}
                for q, (keyword, nearest) in zip(questions, found, strict=True):
                    fused = ranking.blend(
                        keyword,
                        nearest,
                        50,
                        newer_is_larger=True,
                        keyword_weight=weight,
                        by_lead=by_lead,
                    )
                    for mode, hits in (("hybrid", fused), ("fts", keyword), ("vector", nearest)):
                        rows[mode].append(
                            (q.kind, score([texts[s] for s, _ in hits[:10]], q.evidence))
                        )
                overall = {
                    mode: [statistics.fmean(r[k] for _, (r, _) in got) for k in (1, 5, 10)]
                    + [statistics.fmean(rr for _, (_, rr) in got)]
                    for mode, got in rows.items()
                }
                worst = min(
                    statistics.fmean(r[k] for kind2, (r, _) in rows["hybrid"] if kind2 == kind)
                    - max(
                        statistics.fmean(r[k] for kind2, (r, _) in rows[m] if kind2 == kind)
                        for m in ("fts", "vector")
                    )
                    for kind in {q.kind for q in questions}
                    for k in (1, 5, 10)
                )
                h = overall["hybrid"]
                print(
                    f"| {b} | {weight} | {lead} | {'yes' if by_lead else 'no'} | "
                    + " | ".join(f"{v:.3f}" for v in h)
                    + f" | {worst:+.3f} |"
                )
        print(
            "halves at the last b:",
            {m: [round(v, 3) for v in o] for m, o in overall.items() if m != "hybrid"},
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
