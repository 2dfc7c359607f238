"""Fusing the keyword and the meaning rankings into one.

``blend`` is what hybrid search uses: each list's scores are brought to one scale (BM25
divided by the best BM25 of the query; cosine similarity measured above the background
of the nearest neighbours, over a span of at least 0.3) and added with weights, so a row's lead in
either list keeps its size, not only its place, and a side that cannot tell its rows
apart adds little; the best keyword hit, when it is a clear one, stays among the first
three even if the vector side never saw it. The constants were chosen on two generated
long conversations of opposite kinds (``bench/memory_eval.py --long`` and ``--chat``,
``bench/memory_fusion_sweep.py``; docs/design.md has the tables). ``fuse``
(reciprocal-rank fusion) remains for rankings without comparable scores (the tool
catalogue and several embedding models at once).
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


KEYWORD_WEIGHT = 0.5
"""The keyword side's share of a blended score, archival and recall alike; the vector side
has the rest. Even shares measured best once the vector side is calibrated (below) and
the keyword side weighed by its lead: on the first long set (meaning the stronger half)
and on the two-friends set (keywords far the stronger) alike."""

VECTOR_SPAN = 0.3
"""The least cosine similarity the vector side's scale spans, from the background (the
farthest of a full list of nearest neighbours) up. Why a floor on the span: where many
turns talk about the same thing, the nearest fifty differ by 0.05 of similarity, and
stretching that to the whole scale gave meaning a full share for a near-tie, outvoting a
keyword hit the vector side never saw (on the two-friends set, archival R@1 0.40 against
the keyword half's 0.63). Over the floor, a flat list adds little. A list that spreads
wider than the floor (a clear meaning match, 0.3 to 0.4 above the background with the
bundled model) keeps its own spread, so the gaps between strong matches still count: a
span fixed at 0.3 with shares capped at 1 flattened them and cost recall search its
paraphrases (R@1 0.66 against 0.81 on the held-out long set)."""

FULL_LIST = 20
"""A vector list this long reaches the background; a shorter one (few rows, or a narrow
filter) is measured from its best row less ``VECTOR_SPAN`` instead."""

KEYWORD_KEEP = 3
"""The best keyword hit is placed no lower than this."""

CLEAR_LEAD = 1.05
"""A keyword hit is a clear one when its BM25 is this many times the runner-up's (or it is
the only hit). Plateaus, where rows share the same common words of the question, tie
exactly or within a percent; a row that also holds the question's rarer words leads by
more (the median lead of a right keyword hit was 1.07 on the two-friends set, of a wrong
one 1.00 to 1.01)."""

BLEND_RECENCY = 0.02
"""Among the leading candidates, the newest gains this much of a blended score over the
oldest: enough to order two statements of one fact that match alike (the latest first),
too little to lift a weak match over a strong one."""


def blend(
    keyword: Sequence[tuple[int, float]],
    vector: Sequence[tuple[int, float]],
    limit: int,
    *,
    newer_is_larger: bool = False,
    keyword_weight: float = KEYWORD_WEIGHT,
    by_lead: bool = False,
) -> list[tuple[int, float]]:
    """(key, blended score) for the best ``limit`` keys, best first, from (key, BM25) and
    (key, cosine similarity) lists, each best first. A key absent from a list scores 0
    on that side. With ``by_lead`` the keyword side weighs ``keyword_weight`` times its
    ``lead_confidence``; the vector side keeps its own share either way."""
    scores: dict[int, float] = {}
    if keyword:
        top = keyword[0][1] or 1.0
        weight = keyword_weight * (lead_confidence(keyword) if by_lead else 1.0)
        for key, score in keyword:
            scores[key] = weight * score / top
    if vector:
        best = vector[0][1]
        floor = vector[-1][1] if len(vector) >= FULL_LIST else best - VECTOR_SPAN
        span = max(best - floor, VECTOR_SPAN)
        for key, similarity in vector:
            share = max(0.0, (similarity - floor) / span)
            scores[key] = scores.get(key, 0.0) + (1.0 - keyword_weight) * share
    ordered = sorted(scores, key=lambda key: (-scores[key], -key))
    if newer_is_larger and keyword and vector:
        pool = ordered[:RECENCY_POOL]
        for age, key in enumerate(sorted(pool)):
            scores[key] += BLEND_RECENCY * age / max(1, len(pool) - 1)
        ordered = sorted(pool, key=lambda key: (-scores[key], -key)) + ordered[RECENCY_POOL:]
    if keyword and vector and _clear(keyword):
        ordered = _kept_near_top(ordered, keyword[0][0])
    return [(key, scores[key]) for key in ordered[:limit]]


def lead_confidence(keyword: Sequence[tuple[int, float]]) -> float:
    """How clearly the best keyword hit leads the next, from 0 (a tie) to 1 (a lead of
    ``CLEAR_LEAD`` or more, or a single hit).

    Why: when the head of the keyword list is a plateau (rows sharing the same common
    words of the question: "new", "my uncle", "work"), its small differences say nothing
    about which row is meant, yet added to near-equal meaning scores they decide the
    order, and they lifted a keyword-only row above the turn the vector side had first
    (recall search, paraphrased and two-turn questions). A clear lead, as for a name or
    a rare word matched in full, keeps the side's whole weight."""
    if len(keyword) < 2 or keyword[1][1] <= 0.0:
        return 1.0
    lead = keyword[0][1] / keyword[1][1] - 1.0
    return min(1.0, max(0.0, lead / (CLEAR_LEAD - 1.0)))


def _clear(keyword: Sequence[tuple[int, float]]) -> bool:
    return len(keyword) == 1 or keyword[0][1] >= CLEAR_LEAD * keyword[1][1]


def _kept_near_top(ordered: list[int], key: int) -> list[int]:
    place = ordered.index(key)
    if place < KEYWORD_KEEP:
        return ordered
    rest = ordered[:place] + ordered[place + 1 :]
    return rest[: KEYWORD_KEEP - 1] + [key] + rest[KEYWORD_KEEP - 1 :]


WEAK_MATCH_RATIO = 0.5
"""In a fused search, a vector hit less than half as similar as the best one is noise."""


def strong_matches(nearest: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """The vector hits worth fusing: nearest neighbours always exist, even for a query
    nothing matches, and without this cut they would fill every hybrid result list.
    The cut is relative to the best hit, so it holds for any embedding model's scale."""
    if not nearest:
        return []
    floor = max(0.0, nearest[0][1] * WEAK_MATCH_RATIO)
    return [(key, score) for key, score in nearest if score >= floor]
