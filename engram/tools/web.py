"""``fetch_webpage``: one web page, downloaded within bounds and read as markdown text.

The server fetches the page itself (httpx), so everything a model could make it do is
bounded here: http and https only; a whole-call deadline, so a page that trickles is cut
off as surely as one that never answers; a byte cap checked while reading, so a huge page
is refused without being held; text content only (HTML, plain text, JSON, XML), so a PDF
or an image is refused rather than read as noise; at most ``MAX_REDIRECTS`` redirects,
each checked like the first address. Addresses that resolve to loopback, private,
link-local or reserved networks are refused unless the operator allows them
(``ENGRAM_WEB_FETCH_PRIVATE_ADDRESSES``): a model must not reach the server's own
neighbours (databases, cloud metadata endpoints) through it. The request goes to the very
address that was checked (``PinnedRequest``), so a name that resolves differently the
second time cannot slip past the check.

HTML becomes markdown with ``markdownify`` (over Beautiful Soup's standard-library
parser), scripts and styles dropped first.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from bs4 import BeautifulSoup
from markdownify import MarkdownConverter

from engram.version import __version__

MAX_REDIRECTS = 5
USER_AGENT = f"Engram/{__version__} (fetch_webpage)"
_TEXT_TYPES = ("application/json", "application/xml", "application/xhtml+xml")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_DROPPED_TAGS = ["script", "style", "noscript", "template", "iframe", "svg"]


class WebToolError(Exception):
    """A web call that cannot be carried out; the message is what the model reads."""


@dataclass(frozen=True)
class FetchLimits:
    timeout_seconds: float
    max_bytes: int
    private_addresses: bool = False
    """Whether addresses on loopback and private networks may be fetched."""
    sender: str = "fetch_webpage"
    """Who sends the request, and the setting that allows private addresses for it: named
    in a refusal."""
    private_setting: str = "ENGRAM_WEB_FETCH_PRIVATE_ADDRESSES"


Resolver = Callable[[str, int], Awaitable[list[str]]]
"""A host name and port to the addresses they resolve to."""


async def fetch_webpage(url: str, limits: FetchLimits, resolve: Resolver | None = None) -> str:
    """The page at ``url`` as text (markdown for HTML); ``WebToolError`` says why not.
    ``resolve``: how host names become addresses (the system's resolver by default)."""
    try:
        async with asyncio.timeout(limits.timeout_seconds):
            body, media_type, encoding = await _download(url, limits, resolve or _resolve)
    except (TimeoutError, httpx.TimeoutException):
        raise WebToolError(
            f"{url} did not load within {limits.timeout_seconds:g} seconds "
            "(ENGRAM_WEB_FETCH_TIMEOUT_SECONDS)"
        ) from None
    except httpx.HTTPError as exc:
        raise WebToolError(f"could not fetch {url}: {type(exc).__name__}: {exc}") from None
    try:
        text = body.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", errors="replace")
    if media_type in _HTML_TYPES:
        text = await asyncio.to_thread(html_to_markdown, text)
    return text.strip() or f"{url} has no text."


def html_to_markdown(html: str) -> str:
    """The readable content of an HTML document as markdown."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(_DROPPED_TAGS):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    if soup.head is not None:
        soup.head.decompose()
    markdown = MarkdownConverter(heading_style="ATX").convert_soup(soup)
    markdown = re.sub(r"\n\s*\n(\s*\n)+", "\n\n", markdown).strip()
    return f"# {title}\n\n{markdown}" if title and title not in markdown[:200] else markdown


async def _download(
    url: str, limits: FetchLimits, resolve: Resolver
) -> tuple[bytes, str, str | None]:
    headers = {"User-Agent": USER_AGENT, "Accept": "text/html,text/plain;q=0.9,*/*;q=0.5"}
    # The whole call's deadline (``asyncio.timeout`` above) comes first; this only bounds
    # each network operation should that deadline ever be lifted.
    timeout = httpx.Timeout(limits.timeout_seconds + 5)
    async with httpx.AsyncClient(timeout=timeout, headers=headers, trust_env=False) as client:
        target = _checked_url(url)
        for _ in range(MAX_REDIRECTS + 1):
            hop = await _pinned(target, limits, resolve)
            async with client.stream(
                "GET", hop.url, headers=hop.headers, extensions=hop.extensions
            ) as response:
                if response.is_redirect and "location" in response.headers:
                    target = _checked_url(str(target.join(response.headers["location"])))
                    continue
                return await _read(response, limits, target)
    raise WebToolError(f"{url} redirected more than {MAX_REDIRECTS} times")


@dataclass(frozen=True)
class PinnedRequest:
    """A request sent to the address that was checked, not to the host name: resolving
    the name again at connect time could give another address (DNS rebinding), one on a
    private network. The name still travels as the Host header and, for https, as the
    TLS server name, against which the certificate is verified."""

    url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, str]


async def _pinned(url: httpx.URL, limits: FetchLimits, resolve: Resolver) -> PinnedRequest:
    """Where to send a request for ``url``: the first of its addresses, all of which must
    be public unless private addresses are allowed."""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = await resolve(url.host, port)
    except OSError as exc:
        raise WebToolError(f"cannot resolve {url.host}: {exc}") from None
    if not addresses:
        raise WebToolError(f"cannot resolve {url.host}: no address")
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if not ip.is_global and not limits.private_addresses:
            raise WebToolError(
                f"{url.host} is on a private or local network ({ip}), which {limits.sender} "
                f"does not reach (the operator can allow it: {limits.private_setting})"
            )
    host = url.netloc.decode("ascii")
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return PinnedRequest(url.copy_with(host=addresses[0]), {"Host": host}, extensions)


async def pinned_request(
    url: str, limits: FetchLimits, resolve: Resolver | None = None
) -> PinnedRequest:
    """Where one request for ``url`` goes, checked as a fetched page's address is (http or
    https, public unless ``limits`` allow private networks): for the server's other
    outgoing requests (a run's callback). ``WebToolError`` says why not."""
    return await _pinned(_checked_url(url), limits, resolve or _resolve)


async def _resolve(host: str, port: int) -> list[str]:
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 address may carry a zone ("fe80::1%eth0"); the zone is not part of the address.
    return [str(address[0]).split("%")[0] for *_, address in found]


def _checked_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise WebToolError(f"'{url}' is not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise WebToolError(
            f"fetch_webpage reads http:// and https:// pages only, not '{parsed.scheme}:' ({url})"
        )
    if not parsed.host:
        raise WebToolError(f"'{url}' names no host")
    return parsed


async def _read(
    response: httpx.Response, limits: FetchLimits, url: httpx.URL
) -> tuple[bytes, str, str | None]:
    if response.status_code >= 400:
        raise WebToolError(f"{url} answered HTTP {response.status_code}")
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (media_type.startswith("text/") or media_type in _TEXT_TYPES or not media_type):
        raise WebToolError(
            f"{url} is {media_type}, not a text page: fetch_webpage reads HTML and text only"
        )
    too_large = WebToolError(
        f"{url} is larger than {limits.max_bytes} bytes (ENGRAM_WEB_FETCH_MAX_BYTES); "
        "it was not read"
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limits.max_bytes:
            raise too_large
    return bytes(body), media_type or "text/plain", response.encoding
