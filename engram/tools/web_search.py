"""``web_search``: a search engine chosen by the operator, behind one small interface.

A backend turns a ``SearchRequest`` (Letta's ``web_search`` arguments) into one HTTP call
to its service and the answer into ``SearchHit``s; the tool answers the same JSON whatever
the backend: ``{"query": ..., "results": [{"title", "url", "published_date", "author",
"highlights", "summary"?, "text"?}]}``. Adding a service is one class with a ``search``
method and one entry in ``BACKENDS``.

Which backend runs is configuration (``ENGRAM_WEB_SEARCH``, see ``engram.config``); with
none configured every call is a tool error naming the settings, so the model can tell the
user what is missing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from engram.config import Settings
from engram.tools.web import WebToolError

NOT_CONFIGURED = (
    "web_search is not configured on this server: the operator sets ENGRAM_WEB_SEARCH to "
    "exa, tavily or searxng, with ENGRAM_EXA_API_KEY, ENGRAM_TAVILY_API_KEY or "
    "ENGRAM_SEARXNG_URL"
)


@dataclass(frozen=True)
class SearchRequest:
    query: str
    num_results: int = 10
    category: str | None = None
    include_text: bool = False
    include_domains: list[str] = field(default_factory=list)
    exclude_domains: list[str] = field(default_factory=list)
    start_published_date: str | None = None
    end_published_date: str | None = None
    user_location: str | None = None


@dataclass
class SearchHit:
    title: str | None
    url: str
    published_date: str | None = None
    author: str | None = None
    highlights: list[str] = field(default_factory=list)
    summary: str | None = None
    text: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in (None, [])}


class SearchBackend(Protocol):
    """One search service."""

    @property
    def name(self) -> str:
        """How settings and errors call the service."""
        ...

    async def search(self, client: httpx.AsyncClient, request: SearchRequest) -> list[SearchHit]:
        """The service's hits for ``request``; raises ``httpx.HTTPError`` on failure."""
        ...


@dataclass(frozen=True)
class ExaBackend:
    """Exa's ``POST /search`` with contents (highlights, summary, optionally text)."""

    api_key: str
    base_url: str
    name: str = "exa"

    async def search(self, client: httpx.AsyncClient, request: SearchRequest) -> list[SearchHit]:
        body: dict[str, Any] = {
            "query": request.query,
            "numResults": request.num_results,
            "type": "auto",
            "contents": {
                "text": request.include_text,
                "highlights": {"query": request.query},
                "summary": {"query": request.query},
            },
        }
        optional = {
            "category": request.category,
            "includeDomains": request.include_domains,
            "excludeDomains": request.exclude_domains,
            "startPublishedDate": request.start_published_date,
            "endPublishedDate": request.end_published_date,
            "userLocation": request.user_location,
        }
        body |= {key: value for key, value in optional.items() if value}
        response = await client.post(
            f"{self.base_url.rstrip('/')}/search", json=body, headers={"x-api-key": self.api_key}
        )
        return [
            SearchHit(
                title=item.get("title"),
                url=str(item.get("url", "")),
                published_date=item.get("publishedDate"),
                author=item.get("author"),
                highlights=list(item.get("highlights") or []),
                summary=item.get("summary"),
                text=item.get("text") if request.include_text else None,
            )
            for item in _results(response, self.name)
        ]


@dataclass(frozen=True)
class TavilyBackend:
    """Tavily's ``POST /search``; its snippet (``content``) becomes the hit's highlight."""

    api_key: str
    base_url: str
    name: str = "tavily"

    async def search(self, client: httpx.AsyncClient, request: SearchRequest) -> list[SearchHit]:
        body: dict[str, Any] = {
            "query": request.query,
            "max_results": min(request.num_results, 20),
            "topic": "news" if request.category == "news" else "general",
            "include_raw_content": request.include_text,
        }
        optional = {
            "include_domains": request.include_domains,
            "exclude_domains": request.exclude_domains,
            "start_date": (request.start_published_date or "")[:10],
            "end_date": (request.end_published_date or "")[:10],
        }
        body |= {key: value for key, value in optional.items() if value}
        response = await client.post(
            f"{self.base_url.rstrip('/')}/search",
            json=body,
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        return [
            SearchHit(
                title=item.get("title"),
                url=str(item.get("url", "")),
                published_date=item.get("published_date"),
                highlights=[item["content"]] if item.get("content") else [],
                text=item.get("raw_content") if request.include_text else None,
            )
            for item in _results(response, self.name)
        ]


@dataclass(frozen=True)
class SearxngBackend:
    """A SearXNG instance's JSON API (``GET /search?format=json``; the instance must have
    the ``json`` format enabled). Domain filters are applied to its results here."""

    base_url: str
    name: str = "searxng"

    async def search(self, client: httpx.AsyncClient, request: SearchRequest) -> list[SearchHit]:
        params = {"q": request.query, "format": "json"}
        if request.category == "news":
            params["categories"] = "news"
        response = await client.get(f"{self.base_url.rstrip('/')}/search", params=params)
        hits = [
            SearchHit(
                title=item.get("title"),
                url=str(item.get("url", "")),
                published_date=item.get("publishedDate"),
                highlights=[item["content"]] if item.get("content") else [],
            )
            for item in _results(response, self.name)
        ]
        kept = [hit for hit in hits if _domain_allowed(hit.url, request)]
        return kept[: request.num_results]


BACKENDS = ("exa", "tavily", "searxng")


def backend_from(settings: Settings) -> SearchBackend:
    """The backend the settings choose: ``web_search`` names one, else the first of Exa,
    Tavily and SearXNG whose key or URL is set. ``WebToolError`` when there is none."""
    chosen: str | None = settings.web_search
    if chosen is None:
        configured = {
            "exa": settings.exa_api_key,
            "tavily": settings.tavily_api_key,
            "searxng": settings.searxng_url,
        }
        chosen = next((name for name in BACKENDS if configured[name]), None)
    if chosen == "exa" and settings.exa_api_key:
        return ExaBackend(settings.exa_api_key, settings.exa_base_url)
    if chosen == "tavily" and settings.tavily_api_key:
        return TavilyBackend(settings.tavily_api_key, settings.tavily_base_url)
    if chosen == "searxng" and settings.searxng_url:
        return SearxngBackend(settings.searxng_url)
    if chosen is not None:
        setting = {"exa": "EXA_API_KEY", "tavily": "TAVILY_API_KEY", "searxng": "SEARXNG_URL"}
        raise WebToolError(
            f"web_search is set to {chosen} (ENGRAM_WEB_SEARCH) but ENGRAM_{setting[chosen]} "
            "is not set on this server"
        )
    raise WebToolError(NOT_CONFIGURED)


async def web_search(settings: Settings, request: SearchRequest) -> str:
    """Run ``request`` on the configured backend; the JSON the model reads."""
    if not request.query.strip():
        raise WebToolError("query must not be empty")
    backend = backend_from(settings)
    bounded = replace(request, num_results=_clamp(request.num_results))
    timeout = httpx.Timeout(settings.web_search_timeout_seconds)
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            hits = await backend.search(client, bounded)
    except httpx.TimeoutException:
        raise WebToolError(
            f"the {backend.name} search did not answer within "
            f"{settings.web_search_timeout_seconds:g} seconds"
        ) from None
    except httpx.HTTPError as exc:
        raise WebToolError(f"the {backend.name} search failed: {exc}") from None
    results = [hit.as_json() for hit in hits]
    return json.dumps({"query": request.query, "results": results}, ensure_ascii=False)


def _results(response: httpx.Response, backend: str) -> list[dict[str, Any]]:
    if response.status_code >= 400:
        raise WebToolError(
            f"the {backend} search answered HTTP {response.status_code}: {response.text[:300]}"
        )
    try:
        found = response.json().get("results")
    except (ValueError, AttributeError):
        raise WebToolError(f"the {backend} search answered something that is not JSON") from None
    return [item for item in found or [] if isinstance(item, dict)]


def _clamp(count: int) -> int:
    return max(1, min(count, 100))


def _domain_allowed(url: str, request: SearchRequest) -> bool:
    host = (urlsplit(url).hostname or "").lower()

    def matches(domain: str) -> bool:
        domain = domain.lower().lstrip(".")
        return host == domain or host.endswith(f".{domain}")

    if request.include_domains and not any(matches(d) for d in request.include_domains):
        return False
    return not any(matches(d) for d in request.exclude_domains)
