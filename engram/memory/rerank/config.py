"""The process's reranker, built from the settings: none unless one is configured.

``ENGRAM_RERANKER_URL`` turns reranking on, ``ENGRAM_RERANKER_KIND`` says which dialect the
server speaks (guessed for Cohere's, Jina's and Voyage's own hosts), and the model, key,
deadline, retries, candidate count and failure policy come with them. A kind without a
URL, or a URL whose kind cannot be told, stops the server at start-up
(``Settings`` validation) rather than failing every search later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from engram.memory.rerank.base import Reranker, RerankPolicy
from engram.memory.rerank.http import HttpReranker, HttpRerankerConfig, Kind

if TYPE_CHECKING:
    from engram.config import Settings

KNOWN_HOSTS: dict[str, Kind] = {
    "api.cohere.com": "cohere",
    "api.cohere.ai": "cohere",
    "api.jina.ai": "jina",
    "api.voyageai.com": "voyage",
}


def kind_for(url: str, kind: str | None) -> Kind | None:
    """The configured kind, else the one the URL's host is known to speak; None if neither."""
    if kind is not None:
        return kind  # type: ignore[return-value]  # validated by Settings' Literal
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, TypeError):
        return None
    return KNOWN_HOSTS.get(host)


def reranker_from(settings: Settings) -> Reranker | None:
    """The reranker the settings configure, or None (reranking off)."""
    url = settings.reranker_url
    if not url:
        return None
    kind = kind_for(url, settings.reranker_kind)
    if kind is None:  # Settings validation refuses this; kept for settings built otherwise
        raise ValueError("ENGRAM_RERANKER_KIND must be set for this ENGRAM_RERANKER_URL")
    return HttpReranker(
        HttpRerankerConfig(
            kind=kind,
            url=url,
            model=settings.reranker_model,
            api_key=settings.reranker_api_key,
            timeout_seconds=settings.reranker_timeout_seconds,
            max_retries=settings.reranker_max_retries,
            policy=RerankPolicy(settings.rerank_candidates, settings.reranker_on_failure),
        )
    )
