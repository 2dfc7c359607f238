"""Reciprocal-rank fusion: one ranking out of several, without comparing their scores.

BM25 scores and cosine similarities live on different scales; fusing by rank sidesteps
calibrating them. A row ranked high by either list rises; one ranked by both rises most.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

SearchMode = Literal["hybrid", "fts", "vector"]
SEARCH_MODES: tuple[str, ...] = ("hybrid", "fts", "vector")

RRF_K = 60
"""Ranks deep in one list still count, but the head of each list dominates."""


RECENCY_WEIGHT = 0.25
"""How much a newer row gains over an older one among the leading candidates: enough to
put a fact's latest statement above the one it superseded when both match alike, too
little to lift a weak match over a strong one."""

RECENCY_POOL = 10
"""Only the leading candidates are reordered by age; deeper ranks stay by relevance."""


def fuse(
    rankings: Sequence[Sequence[int]], limit: int, *, newer_is_larger: bool = False
) -> list[tuple[int, float]]:
    """(key, fused score) for the best ``limit`` keys over ``rankings``, best first.

    With ``newer_is_larger`` (keys are insertion sequence numbers), the leading candidates
    also get a small reciprocal-rank bonus by recency: memory is more often asked for the
    current state of a fact than for what it used to be."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking):
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
    ordered = sorted(scores, key=lambda key: -scores[key])
    if newer_is_larger and len(rankings) > 1:
        pool = ordered[:RECENCY_POOL]
        for rank, key in enumerate(sorted(pool, reverse=True)):
            scores[key] += RECENCY_WEIGHT / (RRF_K + rank + 1)
        ordered = sorted(pool, key=lambda key: -scores[key]) + ordered[RECENCY_POOL:]
    return [(key, scores[key]) for key in ordered[:limit]]


WEAK_MATCH_RATIO = 0.5
"""In a fused search, a vector hit less than half as similar as the best one is noise."""


def strong_matches(nearest: Sequence[tuple[int, float]]) -> list[int]:
    """The vector hits worth fusing: nearest neighbours always exist, even for a query
    nothing matches, and without this cut they would fill every hybrid result list.
    The cut is relative to the best hit, so it holds for any embedding model's scale."""
    if not nearest:
        return []
    floor = max(0.0, nearest[0][1] * WEAK_MATCH_RATIO)
    return [key for key, score in nearest if score >= floor]
