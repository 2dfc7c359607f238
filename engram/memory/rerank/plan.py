"""The reranking stage of the memory search tools, which run inside a step's transaction.

A reranker is a network call, and no network call runs while the step's transaction holds
the database. So a step reranks in two passes: before the transaction, each search call
runs once in a read transaction with a collecting plan, which records its fused candidates;
their scores are fetched from the reranker; then, inside the transaction, the call runs
for real with a plan holding those scores, and its candidates are put in their order.

Scores are kept by (query, candidate): a reranker's score depends on nothing else, so a
candidate that appears only in the second pass (a passage the same step inserted just
before searching) is the only one without a score, and it keeps its fused place after the
scored ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from engram.memory.rerank.apply import ordered
from engram.memory.rerank.base import RerankFailed

T = TypeVar("T")


@dataclass(frozen=True)
class Candidates:
    """One search's fused candidates, as the collecting pass saw them."""

    query: str
    keys: list[str]
    texts: list[str]


@dataclass
class RerankPlan:
    """What a memory search tool does between fusion and the cut to ``top_k``."""

    candidates: int = 0
    """How many fused results a search produces for reranking; 0 when it is off."""
    collecting: list[Candidates] | None = None
    """Set in the first pass: every search's candidates are appended here."""
    scores: dict[tuple[str, str], float] = field(default_factory=dict)
    """(query, candidate key) -> the reranker's score, for the second pass."""
    refused: dict[str, str] = field(default_factory=dict)
    """query -> the reranker's error, for searches that fail with it (policy ``error``)."""

    def pool(self, top_k: int) -> int:
        """How many fused results the search should produce."""
        return max(top_k, self.candidates)

    def order(
        self,
        query: str,
        items: Sequence[T],
        key: Callable[[T], str],
        text: Callable[[T], str],
        top_k: int,
    ) -> list[T]:
        """The ``top_k`` results of a search whose fused candidates are ``items``."""
        if self.collecting is not None:
            self.collecting.append(
                Candidates(query, [key(item) for item in items], [text(item) for item in items])
            )
            return list(items[:top_k])
        if query in self.refused:
            raise RerankFailed(self.refused[query])
        if not self.scores:
            return list(items[:top_k])
        found = [self.scores.get((query, key(item))) for item in items]
        return [items[i] for i in ordered(found)[:top_k]]
