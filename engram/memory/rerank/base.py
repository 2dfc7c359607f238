"""What a reranker is: something that scores documents against a query, a number each.

A reranker sees only the query and the candidates' texts: which candidates there are
(the scope, the filters) is decided by the search before it, so reranking can reorder a
search's results but never widen them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from engram.errors import ProviderError

OnFailure = Literal["fused", "error"]
"""What a search does when its reranker fails: keep the fused order (logged, and marked in
the trace and the results), or fail the search with the reranker's error."""


class RerankFailed(ProviderError):
    """The reranker did not answer, answered an error, or answered something unreadable;
    the message names the reranker and what went wrong. With ``on_failure = "error"`` a
    route answers it as a 502 and a memory tool as a tool error."""


@dataclass(frozen=True)
class RerankPolicy:
    """How searches use a reranker: how many fused candidates it sees, and what a failure
    does (``ENGRAM_RERANK_CANDIDATES``, ``ENGRAM_RERANKER_ON_FAILURE``)."""

    candidates: int = 50
    on_failure: OnFailure = "fused"


class Reranker(Protocol):
    """One reranking service or model."""

    @property
    def name(self) -> str:
        """How traces and errors call it: its kind and model (``tei:bge-reranker-base``)."""
        ...

    @property
    def policy(self) -> RerankPolicy: ...

    async def scores(self, query: str, documents: Sequence[str]) -> list[float | None]:
        """A relevance score for each document, in the documents' order (higher is more
        relevant; None for one the reranker left out). Raises ``RerankFailed``."""
        ...

    async def close(self) -> None: ...
