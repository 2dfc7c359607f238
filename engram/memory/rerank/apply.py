"""A search's candidates reordered by a reranker, and a note of what that did.

The search hands over its fused candidates (``candidate_count`` of them: the top
``ENGRAM_RERANK_CANDIDATES``, or more when more results were asked for); the reranker scores
them and the best ``top_k`` by its scores are the results. A candidate the reranker left
unscored keeps its fused place after the scored ones.

A failure never passes unnoticed: the note says it failed and why (the step's trace and the
results' metadata carry it, and it is logged); the fused order stands unless the policy
is ``error``, when ``Reranked.checked`` raises the reranker's error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeVar

from engram.memory.rerank.base import Reranker, RerankFailed

log = logging.getLogger(__name__)

T = TypeVar("T")

AGENT_SWITCH = "rerank"
"""The agent metadata key that, set to false, keeps an agent's searches unreranked."""


@dataclass(frozen=True)
class RerankNote:
    """What one reranking did: for the step's trace and the search results' metadata."""

    reranker: str
    status: Literal["reranked", "failed"]
    candidates: int
    started_ns: int
    """``time.perf_counter_ns()`` when the reranker was asked."""
    duration_ns: int
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "reranker": self.reranker,
            "status": self.status,
            "candidates": self.candidates,
            "duration_ms": round(self.duration_ns / 1e6, 3),
        }
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class Reranked(Generic[T]):
    """A search's results after the reranking stage, best first."""

    items: list[T]
    scores: list[float | None]
    """The reranker's score of each item; None where it gave none (or did not run)."""
    fused_ranks: list[int]
    """Each item's place (0-based) in the fused order the reranker was given."""
    note: RerankNote | None = None
    """None when no reranker ran."""
    refuse_failure: bool = False

    def checked(self) -> Reranked[T]:
        """Itself; raises ``RerankFailed`` when the reranker failed under policy ``error``."""
        if self.refuse_failure and self.note is not None and self.note.status == "failed":
            raise RerankFailed(self.note.error or f"reranker {self.note.reranker} failed")
        return self


def enabled_for(metadata: Mapping[str, Any] | None) -> bool:
    """Whether an agent's searches are reranked (when a reranker is configured): yes,
    unless its metadata sets ``rerank`` to false."""
    return (metadata or {}).get(AGENT_SWITCH) is not False


def candidate_count(reranker: Reranker | None, top_k: int) -> int:
    """How many fused results a search should produce for the reranking stage."""
    return top_k if reranker is None else max(top_k, reranker.policy.candidates)


def unreranked(items: Sequence[T], top_k: int) -> Reranked[T]:
    kept = list(items[:top_k])
    return Reranked(kept, [None] * len(kept), list(range(len(kept))))


async def rerank(
    reranker: Reranker | None,
    query: str,
    items: Sequence[T],
    text: Callable[[T], str],
    top_k: int,
) -> Reranked[T]:
    """The best ``top_k`` of ``items`` (fused order, best first) by ``reranker``'s scores
    of their ``text`` against ``query``; the first ``top_k`` as they are when there is no
    reranker, nothing to rerank, or the reranker failed (see ``Reranked.checked``)."""
    if reranker is None or not items:
        return unreranked(items, top_k)
    started = time.perf_counter_ns()
    try:
        scores = await reranker.scores(query, [text(item) for item in items])
    except RerankFailed as exc:
        note = RerankNote(
            reranker.name,
            "failed",
            len(items),
            started,
            time.perf_counter_ns() - started,
            str(exc),
        )
        log.warning("reranking skipped, results keep the fused order: %s", exc)
        refuse = reranker.policy.on_failure == "error"
        return replace(unreranked(items, top_k), note=note, refuse_failure=refuse)
    elapsed = time.perf_counter_ns() - started
    order = ordered(scores)[:top_k]
    note = RerankNote(reranker.name, "reranked", len(items), started, elapsed)
    return Reranked([items[i] for i in order], [scores[i] for i in order], order, note)


def ordered(scores: Sequence[float | None]) -> list[int]:
    """Indexes by score, best first; unscored ones after, in their own order."""
    return sorted(
        range(len(scores)),
        key=lambda i: (scores[i] is None, -(scores[i] or 0.0), i),
    )
