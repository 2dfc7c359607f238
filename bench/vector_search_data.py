"""Synthetic archival passages for ``vector_search.py``: embeddings, texts, exact answers.

Why synthetic: embedding a million passages with the local model would take hours on a
small machine, and the benchmark measures search, not the embedder. Why structured:
isotropic random vectors are the easiest case for exact search and the hardest for HNSW
(no neighbourhoods to exploit), so neither tells how real embeddings behave. Sentence
embeddings cluster by topic and spread their variance over a few dozen directions; the
generator below imitates both, and ``describe`` prints the similarity profile so a
reader can compare it with their own data.

Every passage and query is ``centroid + noise``, normalised. Centroids (topics) are drawn
from an anisotropic Gaussian whose variances fall off as a power law in a random rotation
(participation ratio about 100 of 384 dimensions) plus a direction they all share; topic
sizes are skewed (log-normal weights); the noise has the same anisotropic shape. Queries
come from the same mixture with a separate random stream, so they are never copies of
stored vectors. Everything is fixed by the seed: the first N passages are the same
whatever the corpus size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

DIM = 384
GENERATION_CHUNK = 50_000
"""Passages drawn per random call; fixed so that a corpus does not depend on its size."""


@dataclass(frozen=True)
class MixtureShape:
    """The knobs of the mixture; the defaults give within-topic cosines around 0.5."""

    topics: int = 3000
    spectrum_decay: float = 0.7
    noise: float = 0.9
    topic_skew: float = 1.0
    shared: float = 0.35
    vocabulary: int = 4000
    words_per_topic: int = 4


@dataclass(frozen=True)
class Corpus:
    """Unit float32 vectors, each passage's topic, and the topics' keywords."""

    vectors: np.ndarray
    topics: np.ndarray
    topic_words: list[list[str]]
    filler_words: list[str]


class Mixture:
    """A seeded topic mixture that draws passages and queries of the same distribution."""

    def __init__(self, seed: int, shape: MixtureShape = MixtureShape()) -> None:
        self.shape = shape
        structure, self._passage_seed, self._query_seed = np.random.SeedSequence(seed).spawn(3)
        rng = np.random.default_rng(structure)
        rotation, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
        variances = (1.0 + np.arange(DIM)) ** -shape.spectrum_decay
        variances /= variances.sum()
        # Row i of the basis is direction i scaled by its standard deviation: z @ basis
        # turns unit Gaussian draws into the anisotropic shape, total variance 1.
        self._basis = (np.sqrt(variances)[:, None] * rotation.T).astype(np.float32)
        # A direction every embedding leans towards, as sentence models' outputs do: it
        # lifts the cosine of unrelated passages from 0 to about 0.1.
        common = _normalise(self._draw(rng, 1))[0] * np.float32(shape.shared)
        self.centroids = _normalise(_normalise(self._draw(rng, shape.topics)) + common)
        weights = rng.lognormal(0.0, shape.topic_skew, shape.topics)
        self._topic_p = weights / weights.sum()
        words = _pseudo_words(rng, shape.vocabulary)
        self.topic_words = [
            list(rng.choice(words, shape.words_per_topic, replace=False))
            for _ in range(shape.topics)
        ]
        self.filler_words = words

    def _draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return rng.standard_normal((count, DIM), dtype=np.float32) @ self._basis

    def _sample(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        topics = rng.choice(self.shape.topics, size=count, p=self._topic_p)
        noise = self._draw(rng, count) * np.float32(self.shape.noise)
        return _normalise(self.centroids[topics] + noise), topics

    def passages(self, count: int) -> Corpus:
        """The first ``count`` passages of the seed's endless stream."""
        rng = np.random.default_rng(self._passage_seed)
        vectors = np.empty((count, DIM), dtype=np.float32)
        topics = np.empty(count, dtype=np.int64)
        for start in range(0, count, GENERATION_CHUNK):
            stop = min(count, start + GENERATION_CHUNK)
            chunk, chunk_topics = self._sample(rng, GENERATION_CHUNK)
            vectors[start:stop] = chunk[: stop - start]
            topics[start:stop] = chunk_topics[: stop - start]
        return Corpus(vectors, topics, self.topic_words, self.filler_words)

    def queries(self, count: int) -> tuple[np.ndarray, list[str]]:
        """Query vectors and texts (two of the topic's keywords), from their own stream."""
        rng = np.random.default_rng(self._query_seed)
        vectors, topics = self._sample(rng, count)
        texts = [
            " ".join(rng.choice(self.topic_words[topic], 2, replace=False)) for topic in topics
        ]
        return vectors, texts


def passage_texts(corpus: Corpus, start: int, stop: int, seed: int) -> Iterator[str]:
    """Short notes naming two of the passage's topic words, so full-text search has
    something to find in hybrid mode; deterministic per passage index."""
    rng = np.random.default_rng([seed, start])
    fillers = rng.choice(corpus.filler_words, size=(stop - start, 4))
    picks = rng.integers(0, len(corpus.topic_words[0]), size=(stop - start, 2))
    for offset in range(stop - start):
        words = corpus.topic_words[int(corpus.topics[start + offset])]
        first, second = words[picks[offset, 0]], words[picks[offset, 1]]
        filler = " ".join(fillers[offset])
        yield f"note {start + offset}: {first} {filler} {second}"


def exact_top_k(corpus: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row indices of each query's ``k`` most cosine-similar passages, best first.

    Brute force in blocks so that the score matrix stays small at a million rows."""
    block = 100_000
    best_index = np.empty((len(queries), 0), dtype=np.int64)
    best_score = np.empty((len(queries), 0), dtype=np.float32)
    for start in range(0, len(corpus), block):
        scores = queries @ corpus[start : start + block].T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        best_index = np.hstack([best_index, top + start])
        best_score = np.hstack([best_score, np.take_along_axis(scores, top, axis=1)])
        keep = np.argsort(-best_score, axis=1)[:, :k]
        best_index = np.take_along_axis(best_index, keep, axis=1)
        best_score = np.take_along_axis(best_score, keep, axis=1)
    return best_index


def describe(corpus: np.ndarray, queries: np.ndarray, truth: np.ndarray, seed: int) -> str:
    """Cosine similarity of random pairs and of each query's exact 1st and 10th neighbours:
    the profile to compare with real embeddings (for sentence models, random pairs sit
    near 0.0–0.2 and close paraphrases above 0.7)."""
    rng = np.random.default_rng(seed)
    left, right = rng.integers(0, len(corpus), size=(2, 2000))
    random_pairs = float(np.mean(np.sum(corpus[left] * corpus[right], axis=1)))
    first = np.sum(queries * corpus[truth[:, 0]], axis=1)
    tenth = np.sum(queries * corpus[truth[:, -1]], axis=1)
    return (
        f"cosine: random pairs {random_pairs:.2f}, query to 1st neighbour "
        f"{float(np.mean(first)):.2f}, to 10th {float(np.mean(tenth)):.2f}"
    )


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _pseudo_words(rng: np.random.Generator, count: int) -> list[str]:
    """Distinct pronounceable non-words: real words would collide with FTS stop words."""
    onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"]
    vowels = ["a", "e", "i", "o", "u"]
    words: set[str] = set()
    while len(words) < count:
        syllables = rng.integers(2, 4)
        words.add(
            "".join(str(rng.choice(onsets)) + str(rng.choice(vowels)) for _ in range(syllables))
        )
    return sorted(words)
