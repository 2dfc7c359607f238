"""How the hybrid fusion was chosen: every candidate scored on the same stored lists.

Why: a fusion tuned on one conversation can lose to its own keyword half on another (on
the two-friends set the vector half is the weak one, on the first set the strong one).
This script reads the data dirs ``memory_eval.py --long/--chat --keep-server`` leave
(SQLite), takes each question's keyword and vector lists once (``memory_fusion_lists``),
and scores each candidate fusion in-process on archival and recall search, per question
type, against the better of the two halves at every depth.

    .venv/bin/python bench/memory_fusion_sweep.py long:7:/tmp/engram-memory-eval-XXXX \\
        chat:23:/tmp/engram-memory-eval-YYYY

Each argument is ``set:seed:data_dir``; ``set`` is ``long`` or ``chat``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.memory_eval_chat_data import build_chat_set  # noqa: E402
from bench.memory_eval_long import score  # noqa: E402
from bench.memory_eval_long_data import build_long_set  # noqa: E402
from bench.memory_fusion_lists import Corpus, Ranked, read_corpus  # noqa: E402
from engram.memory import ranking  # noqa: E402

Fusion = Callable[[Ranked, Ranked, str], Ranked]
COLUMNS = ("R@1", "R@5", "R@10", "MRR")


def shipped(keyword: Ranked, vector: Ranked, store: str) -> Ranked:
    """``ranking.blend`` as archival and recall search call it."""
    return ranking.blend(keyword, vector, 10, newer_is_larger=True, by_lead=True)


CANDIDATES: dict[str, Fusion] = {
    "shipped": shipped,
    "fts": lambda keyword, vector, store: keyword,
    "vector": lambda keyword, vector, store: vector,
}


def results(corpus: Corpus, fusion: Fusion, dated: bool = True) -> list[tuple[str, list[float]]]:
    """(type, [R@1, R@5, R@10, MRR@10]) per question; without ``dated`` the undated lists
    only (a search in one mode alone does not read dates)."""
    rows = []
    for lists in corpus.questions:
        shown: list[int] = []
        for keyword, vector in lists.parts if dated else lists.parts[-1:]:
            for key, _ in fusion(keyword, vector, corpus.store)[:10]:
                if key not in shown:
                    shown.append(key)
        recall, rr = score([corpus.texts[key] for key in shown[:10]], lists.question.evidence)
        rows.append((lists.question.kind, [recall[1], recall[5], recall[10], rr]))
    return rows


def table(rows: Sequence[tuple[str, list[float]]]) -> dict[str, list[float]]:
    kinds = sorted({kind for kind, _ in rows})
    out = {}
    for kind in ["all", *kinds]:
        mine = [values for k, values in rows if kind in ("all", k)]
        out[kind] = [statistics.fmean(v[i] for v in mine) for i in range(len(COLUMNS))]
    return out


def worst_gap(mine: dict[str, list[float]], halves: Sequence[dict[str, list[float]]]) -> float:
    """The largest shortfall against the better half, over types and depths (negative
    when the fusion loses somewhere)."""
    return min(
        mine[kind][i] - max(half[kind][i] for half in halves)
        for kind in mine
        for i in range(len(COLUMNS))
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", help="set:seed:data_dir")
    parser.add_argument("--types", action="store_true", help="print every type's row")
    parser.add_argument("--candidates", type=Path, help="a module whose CANDS adds fusions")
    args = parser.parse_args(argv)
    if args.candidates:
        namespace: dict[str, object] = {}
        exec(args.candidates.read_text(), namespace)  # a trial file of the user's own
        CANDIDATES.update(namespace["CANDS"])  # type: ignore[arg-type]
    corpora = []
    for spec in args.sets:
        name, seed, data_dir = spec.split(":", 2)
        build = build_chat_set if name == "chat" else build_long_set
        # Event-relative questions are placed by an event lookup above the fusion, which
        # the stored lists do not reproduce: the full bench scores them.
        questions = [q for q in build(int(seed)).questions if q.kind != "event-time"]
        for store in ("archival", "recall"):
            corpora.append((f"{name}{seed} {store}", read_corpus(Path(data_dir), questions, store)))
    print("| fusion | set | R@1 | R@5 | R@10 | MRR@10 | worst gap vs best half |")
    print("|---|---|---|---|---|---|---|")
    for label, corpus in corpora:
        halves = [table(results(corpus, CANDIDATES[m], False)) for m in ("fts", "vector")]
        for name, fusion in CANDIDATES.items():
            got = table(results(corpus, fusion, name not in ("fts", "vector")))
            gap = worst_gap(got, halves)
            values = " | ".join(f"{v:.3f}" for v in got["all"])
            print(f"| {name} | {label} | {values} | {gap:+.3f} |")
            if args.types:
                for kind, row in got.items():
                    print(f"|  | {kind} | " + " | ".join(f"{v:.3f}" for v in row) + " | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
