"""Bulk embedding: the local model's batches on helper threads, and ``embed_many`` /
``embed_batches`` with progress after each batch, for the local model and a provider's.

The forward pass of a large call is spread over the model's helper threads, one BLAS
thread each, at the priority of the thread that asked; the vectors must not change.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

from engram.config import Settings
from engram.llm.endpoints import Endpoint
from engram.llm.registry import ProviderRegistry
from engram.memory.embeddings import EmbeddedBatch, LocalEmbedder, ProviderEmbedder
from engram.memory.local_embedding import LocalEmbeddingModel, shared_local_model
from engram.memory.priority import BACKGROUND_NICENESS, lower_thread_priority
from tests.fakes.fake_llm import FakeLLM
from tests.fixtures import embedding_reference
from tests.unit.test_local_embedding import REFERENCE_SENTENCES, assert_matches_reference

# Medium texts of different lengths: together well over the tokens a call needs before
# it is spread over threads.
TEXTS = [f"note {i}: " + "the agent remembers what the user said " * (1 + i % 9) for i in range(40)]


@pytest.fixture(scope="module")
def two_threads() -> LocalEmbeddingModel:
    model = LocalEmbeddingModel(threads=2)
    model.load()
    return model


@pytest.fixture(scope="module")
def one_thread() -> LocalEmbeddingModel:
    model = LocalEmbeddingModel(threads=1)
    model.load()
    return model


def test_threads_do_not_change_the_vectors(
    two_threads: LocalEmbeddingModel, one_thread: LocalEmbeddingModel
) -> None:
    together = two_threads.embed_sync(TEXTS)
    np.testing.assert_allclose(together, one_thread.embed_sync(TEXTS), atol=1e-6)
    alone = np.stack([one_thread.embed_sync([text])[0] for text in TEXTS[:3]])
    np.testing.assert_allclose(together[:3], alone, atol=1e-5)


def test_spread_over_threads_matches_the_reference(two_threads: LocalEmbeddingModel) -> None:
    """The stored sentence-transformers vectors, through the multi-threaded path: the
    reference sentences three times over are enough tokens to be spread."""
    stored = embedding_reference.load()["vectors"]
    got = two_threads.embed_sync(REFERENCE_SENTENCES * 3)
    assert_matches_reference(got, np.concatenate([stored] * 3))


def test_blas_threads_are_given_back_after_a_call(two_threads: LocalEmbeddingModel) -> None:
    def blas_threads() -> list[int]:
        return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]

    before = blas_threads()
    assert before, "numpy's BLAS should be visible to threadpoolctl"
    two_threads.embed_sync(TEXTS)
    assert blas_threads() == before


def test_thread_count_is_checked() -> None:
    with pytest.raises(ValueError, match="threads"):
        LocalEmbeddingModel(threads=0)
    assert LocalEmbeddingModel().threads >= 1


def _threads_by_niceness() -> dict[int, int]:
    """How many of this process's threads run at each niceness (Linux's per-thread view)."""
    counts: dict[int, int] = {}
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        nice = int(fields[16])  # field 19 of stat, counted after "pid (comm)"
        counts[nice] = counts.get(nice, 0) + 1
    return counts


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_helpers_run_at_the_priority_of_the_caller() -> None:
    """A background caller's batches run on helpers at its lowered priority, never on
    threads at normal priority; a normal caller's on helpers at normal priority."""
    model = LocalEmbeddingModel(threads=2)
    model.load()
    before = _threads_by_niceness()
    with ThreadPoolExecutor(max_workers=1, initializer=lower_thread_priority) as background:
        background.submit(model.embed_sync, TEXTS).result()
        during = _threads_by_niceness()
        assert during.get(0, 0) == before.get(0, 0), "no normal-priority thread was added"
        # the background caller and at least one helper
        assert during.get(BACKGROUND_NICENESS, 0) >= before.get(BACKGROUND_NICENESS, 0) + 2
    model.embed_sync(TEXTS)
    assert _threads_by_niceness().get(0, 0) > before.get(0, 0)


async def test_local_embed_many_reports_each_batch_and_matches_embed() -> None:
    embedder = LocalEmbedder(shared_local_model())
    texts = [f"chunk {i} of a long manual about pumps" for i in range(10)]
    progress: list[tuple[int, int]] = []
    vectors = await embedder.embed_many(
        texts, batch_size=4, on_batch=lambda done, total: progress.append((done, total))
    )
    assert progress == [(4, 10), (8, 10), (10, 10)]
    assert len(vectors) == 10 and all(len(v) == 384 for v in vectors)
    np.testing.assert_allclose(np.asarray(vectors), np.asarray(await embedder.embed(texts)), 1e-6)


async def test_embed_batches_yields_positions_and_accepts_async_callbacks() -> None:
    embedder = LocalEmbedder(shared_local_model())
    texts = [f"passage {i}" for i in range(5)]
    batches = [batch async for batch in embedder.embed_batches(texts, batch_size=2)]
    assert [(b.start, len(b.vectors), b.done, b.total) for b in batches] == [
        (0, 2, 2, 5),
        (2, 2, 4, 5),
        (4, 1, 5, 5),
    ]
    seen: list[int] = []

    async def record(done: int, total: int) -> None:
        await asyncio.sleep(0)
        seen.append(done)

    await embedder.embed_many(texts, batch_size=3, on_batch=record)
    assert seen == [3, 5]
    assert await embedder.embed_many([], on_batch=record) == []


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
async def test_batch_size_must_be_a_positive_integer(bad: object) -> None:
    embedder = LocalEmbedder(shared_local_model())
    with pytest.raises(ValueError, match="batch_size"):
        await embedder.embed_many(["x"], batch_size=bad)  # type: ignore[arg-type]


async def test_local_batches_run_off_the_loop_at_background_priority() -> None:
    """The event loop keeps ticking through a bulk job, and the work happens on the
    background thread, at the background niceness (as Linux reports it)."""
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    embedder = LocalEmbedder(shared_local_model())
    await embedder.embed_many(["a fairly ordinary chunk of a document " * 20] * 48, batch_size=16)
    done.set()
    await task
    assert ticks >= 3
    workers = [t for t in threading.enumerate() if t.name.startswith("engram-embed-background")]
    assert workers, "the batches ran on the background thread"
    if sys.platform.startswith("linux"):
        stat = Path(f"/proc/self/task/{workers[0].native_id}/stat").read_text()
        assert int(stat.rsplit(")", 1)[1].split()[16]) == BACKGROUND_NICENESS


async def test_provider_embed_many_sends_one_request_per_batch(fake_llm: FakeLLM) -> None:
    registry = ProviderRegistry(
        Settings(), [Endpoint("fake", "openai", fake_llm.base_url, "test-key")]
    )
    embedder = ProviderEmbedder(
        registry, "fake", "text-embedding-3-small", "fake/text-embedding-3-small", 1536
    )
    texts = [f"chunk {i}" for i in range(7)]
    progress: list[EmbeddedBatch] = []
    try:
        async for batch in embedder.embed_batches(texts, batch_size=3):
            progress.append(batch)
    finally:
        await registry.close()
    assert [(b.start, b.done) for b in progress] == [(0, 3), (3, 6), (6, 7)]
    assert all(len(v) == 1536 for b in progress for v in b.vectors)
    inputs = [request.body["input"] for request in fake_llm.embedding_requests]
    assert inputs == [texts[0:3], texts[3:6], texts[6:7]]


def test_default_threads_follow_the_cpus_this_process_may_use() -> None:
    model = LocalEmbeddingModel()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert model.threads == max(1, min(4, cpus or 1))


def test_a_foreground_call_does_not_wait_for_a_background_one() -> None:
    """A search's query embedding runs while a background batch computes (calls take
    turns only with calls at their own priority), and BLAS gets its threads back after
    the last of them."""
    model = LocalEmbeddingModel(threads=2)
    model.load()
    blas_before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    chunks = [f"{i}: the pump manual says to check the seal " * 40 for i in range(16)]
    took: dict[str, float] = {}
    computing = threading.Event()

    def background() -> None:
        lower_thread_priority()
        computing.set()
        started = time.perf_counter()
        model.embed_sync(chunks)
        took["background"] = time.perf_counter() - started

    thread = threading.Thread(target=background)
    thread.start()
    computing.wait()
    time.sleep(0.2)  # tokenised by now, and into its forward passes
    started = time.perf_counter()
    model.embed_sync(["where is the seal?"])
    took["foreground"] = time.perf_counter() - started
    thread.join()
    # Waiting for the background call would take all but its first 0.2 s.
    assert took["foreground"] < took["background"] / 2, took
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == blas_before
