"""Speed and memory of the local numpy embedding model (all-MiniLM-L6-v2).

Why: the local model is the default embedder when no provider is configured, so its
load time, memory and throughput decide whether archival inserts and searches stay
interactive on a small CPU box.  Run it from the repository root:

    .venv/bin/python bench/embedding_speed.py [--seconds 3] [--long] [--threads N]

It prints load time, peak RSS before and after the load (``resource.getrusage``),
embeddings/second for one short text per call and for batches of 32, and, with
``--long``, for batches of 32 texts at the full 256-token length.  The model spreads a
large call over its helper threads (one per CPU, at most 4; ``--threads`` sets it), each
with one BLAS thread.  ``embedding_vs_reference.py`` compares with sentence-transformers.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    import engram  # noqa: F401
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engram.memory.local_embedding import LocalEmbeddingModel

SHORT_TEXTS: list[str] = [
    "The user prefers to be called Sam.",
    "Remind me to water the plants on Friday.",
    "My favourite programming language is Python.",
    "We discussed the quarterly roadmap in the meeting.",
    "The cat sits on the mat.",
    "Allergic to peanuts and shellfish.",
    "Booked a flight to Lisbon for the 14th of May.",
    "The server restarts every night at 3am.",
]


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / (1024.0 * 1024.0)


def current_rss_mib() -> float | None:
    """Current RSS from /proc where available; peak alone hides transient load copies."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)


def blas_description() -> str:
    """Which BLAS numpy runs and with how many threads, when threadpoolctl can tell."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    parts = [
        f"{info.get('internal_api')} {info.get('version')} "
        f"threads={info.get('num_threads')} arch={info.get('architecture')}"
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return "; ".join(parts) or "no BLAS reported"


def measure(run: Callable[[], int], seconds: float) -> tuple[float, int]:
    """Call ``run`` (which returns how many texts it embedded) for about ``seconds``.

    One untimed call first, so lazy work and cache warm-up are not counted.
    Returns (embeddings per second, calls made).
    """
    run()
    count = 0
    calls = 0
    started = time.perf_counter()
    while True:
        count += run()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return count / elapsed, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--long", action="store_true", help="also time 256-token batches")
    parser.add_argument("--threads", type=int, help="the model's helper threads")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, cores={os.cpu_count()}, BLAS: {blas_description()}")
    # Other processes on the cores skew everything (multi-threaded BLAS most of all).
    print("load average before: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    before = peak_rss_mib()
    model = LocalEmbeddingModel(threads=args.threads)
    print(f"model threads: {model.threads} (one BLAS thread each while computing)")
    started = time.perf_counter()
    model.load()
    load_seconds = time.perf_counter() - started
    current = current_rss_mib()
    print(f"load time: {load_seconds * 1000:.0f} ms")
    print(
        f"peak RSS: {before:.0f} MiB before load, {peak_rss_mib():.0f} MiB after"
        + (f" (current {current:.0f} MiB)" if current is not None else "")
    )

    position = 0

    def one_short() -> int:
        nonlocal position
        model.embed_sync([SHORT_TEXTS[position % len(SHORT_TEXTS)]])
        position += 1
        return 1

    batch32 = [SHORT_TEXTS[i % len(SHORT_TEXTS)] + f" (note {i})" for i in range(32)]

    def short_batch() -> int:
        model.embed_sync(batch32)
        return len(batch32)

    rate, calls = measure(one_short, args.seconds)
    print(f"single short text:    {rate:8.1f} embeddings/s  ({1000.0 / rate:.2f} ms per call)")
    rate, calls = measure(short_batch, args.seconds)
    print(
        f"batch of 32 short:    {rate:8.1f} embeddings/s  "
        f"({1000.0 * 32 / rate:.1f} ms per batch, {calls} batches)"
    )
    if args.long:
        long_batch = [(SHORT_TEXTS[i % len(SHORT_TEXTS)] + " ") * 40 for i in range(32)]

        def long_run() -> int:
            model.embed_sync(long_batch)
            return len(long_batch)

        rate, calls = measure(long_run, args.seconds)
        print(
            f"batch of 32 x 256 tok:{rate:8.1f} embeddings/s  "
            f"({1000.0 * 32 / rate:.0f} ms per batch, {calls} batches)"
        )
    print(f"peak RSS at end: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
