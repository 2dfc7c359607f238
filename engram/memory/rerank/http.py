"""A reranker behind HTTP, speaking one of the ``/rerank`` dialects servers agree on.

Cohere (``POST /v2/rerank``, or ``/v1/rerank``), Jina (``/v1/rerank``) and vLLM (``/rerank``,
``/v1/rerank``) take ``{model, query, documents, top_n}`` and answer ``{results: [{index,
relevance_score}]}``; Voyage (``/v1/rerank``) takes ``top_k`` and answers ``{data: [...]}``
in the same items; Hugging Face TEI (``POST /rerank``) takes ``{query, texts}`` and answers
``[{index, score}]``. The answer is read whatever its dialect, so a server speaking a
neighbour's works too.

Each attempt has a deadline; a refused connection, a timeout, a 408, 429 or 5xx is tried
again a bounded number of times with a short backoff, and every other failure is final.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from engram.memory.rerank.base import RerankFailed, RerankPolicy

log = logging.getLogger(__name__)

Kind = Literal["cohere", "jina", "voyage", "tei", "vllm"]
KINDS: tuple[Kind, ...] = ("cohere", "jina", "voyage", "tei", "vllm")

DEFAULT_PATHS: dict[Kind, str] = {
    "cohere": "/v2/rerank",
    "jina": "/v1/rerank",
    "voyage": "/v1/rerank",
    "tei": "/rerank",
    "vllm": "/v1/rerank",
}
"""The endpoint under a base URL; a URL whose path already ends in ``rerank`` is used as is."""

DOCUMENT_CHARS = 4000
"""Each candidate is sent cut to this many characters: rerankers read a few hundred tokens
of a document at most, and a passage may be a million characters long."""

RETRIED_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
BACKOFF_SECONDS = 0.2


@dataclass(frozen=True)
class HttpRerankerConfig:
    kind: Kind
    url: str
    model: str | None = None
    api_key: str | None = None
    timeout_seconds: float = 10.0
    max_retries: int = 1
    policy: RerankPolicy = RerankPolicy()


def endpoint_of(kind: Kind, url: str) -> str:
    """The URL to post to: ``url`` itself when it names a rerank endpoint, else the
    kind's endpoint under it."""
    trimmed = url.rstrip("/")
    if httpx.URL(trimmed).path.endswith("rerank"):
        return trimmed
    return trimmed + DEFAULT_PATHS[kind]


class HttpReranker:
    """Scores documents with a reranking server; one connection pool for the process."""

    def __init__(self, config: HttpRerankerConfig) -> None:
        self.config = config
        self.endpoint = endpoint_of(config.kind, config.url)
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_seconds), headers=headers, trust_env=False
        )

    @property
    def name(self) -> str:
        return f"{self.config.kind}:{self.config.model}" if self.config.model else self.config.kind

    @property
    def policy(self) -> RerankPolicy:
        return self.config.policy

    async def scores(self, query: str, documents: Sequence[str]) -> list[float | None]:
        if not documents:
            return []
        body = request_body(self.config.kind, self.config.model, query, documents)
        answer = await self._post(body)
        return read_scores(answer, len(documents), self.name)

    async def close(self) -> None:
        await self._client.aclose()

    async def _post(self, body: dict[str, Any]) -> Any:
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._client.post(self.endpoint, json=body)
            except httpx.TimeoutException:
                problem = f"no answer within {self.config.timeout_seconds:g} seconds"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return _json_of(response, self.name)
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in RETRIED_STATUSES:
                    last = True
            if last:
                raise RerankFailed(f"reranker {self.name} at {self.endpoint} failed: {problem}")
            log.info("reranker %s: %s; trying again", self.name, problem)
            await asyncio.sleep(BACKOFF_SECONDS * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def request_body(
    kind: Kind, model: str | None, query: str, documents: Sequence[str]
) -> dict[str, Any]:
    """The request in ``kind``'s dialect, every document asked for (the caller keeps the
    cut to k, so a document the server would have left out still has its score)."""
    texts = [text[:DOCUMENT_CHARS] for text in documents]
    if kind == "tei":
        body: dict[str, Any] = {"query": query, "texts": texts, "truncate": True}
    elif kind == "voyage":
        body = {"query": query, "documents": texts, "top_k": len(texts), "truncation": True}
    else:
        body = {"query": query, "documents": texts, "top_n": len(texts)}
    if model:
        body["model"] = model
    return body


def read_scores(answer: Any, count: int, name: str) -> list[float | None]:
    """Scores in the documents' order from any of the dialects' answers: a list of items
    (TEI) or an object holding them under ``results`` or ``data``; each item an ``index``
    and a ``relevance_score`` or ``score``. ``RerankFailed`` for anything else."""
    items = answer
    if isinstance(answer, dict):
        items = answer.get("results", answer.get("data"))
    if not isinstance(items, list):
        raise RerankFailed(f"reranker {name} answered no list of results: {str(answer)[:200]}")
    scores: list[float | None] = [None] * count
    for item in items:
        index, score = _item(item)
        if index is None or score is None or not 0 <= index < count:
            raise RerankFailed(f"reranker {name} answered an unreadable result: {item!r:.200}")
        scores[index] = score
    return scores


def _item(item: Any) -> tuple[int | None, float | None]:
    if not isinstance(item, dict):
        return None, None
    index = item.get("index")
    score = item.get("relevance_score", item.get("score"))
    if not isinstance(index, int) or isinstance(index, bool):
        return None, None
    if not isinstance(score, int | float) or isinstance(score, bool):
        return index, None
    return index, float(score)


def _json_of(response: httpx.Response, name: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RerankFailed(
            f"reranker {name} answered something that is not JSON: {response.text[:200]}"
        ) from None
