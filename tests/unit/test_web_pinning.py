"""fetch_webpage sends each request to the address it checked: the host name is resolved
once, every address it gives must be public (unless private ones are allowed), and the
connection goes to that address with the name as the Host header, so a name that resolves
elsewhere the second time (DNS rebinding) cannot reach a private network."""

from __future__ import annotations

import asyncio

import pytest

from engram.tools.web import FetchLimits, WebToolError, fetch_webpage
from tests.fakes.web import FakeWeb


class Resolver:
    """A name server with a fixed table that counts how often each name is asked."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"unknown host {host}")
        return self.table[host]


def fetch(url: str, resolve: Resolver, *, private: bool) -> str:
    limits = FetchLimits(timeout_seconds=5, max_bytes=100_000, private_addresses=private)
    return asyncio.run(fetch_webpage(url, limits, resolve))


def test_the_request_goes_to_the_resolved_address_with_the_name_as_host(web: FakeWeb) -> None:
    port = web.base_url.rsplit(":", 1)[1]
    resolve = Resolver({"pages.test": ["127.0.0.1"]})

    text = fetch(f"http://pages.test:{port}/page.html", resolve, private=True)

    assert "# Sea otters" in text
    assert resolve.asked == ["pages.test"], "resolved once, for the check and the connection"
    assert web.hosts[-1] == f"pages.test:{port}"


@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["93.184.216.34", "10.0.0.7"], ["169.254.169.254"], ["::1"]],
    ids=["loopback", "one-private-among-public", "metadata-endpoint", "ipv6-loopback"],
)
def test_a_name_with_any_private_address_is_refused_before_connecting(
    web: FakeWeb, addresses: list[str]
) -> None:
    served = len(web.hosts)
    resolve = Resolver({"pages.test": addresses})

    with pytest.raises(WebToolError, match="private or local network"):
        fetch("http://pages.test/page.html", resolve, private=False)

    assert len(web.hosts) == served


def test_each_redirect_is_resolved_and_checked_again(web: FakeWeb) -> None:
    port = web.base_url.rsplit(":", 1)[1]
    resolve = Resolver({"pages.test": ["127.0.0.1"]})

    fetch(f"http://pages.test:{port}/moved", resolve, private=True)

    assert resolve.asked == ["pages.test", "pages.test"]


def test_an_unknown_name_is_a_tool_error(web: FakeWeb) -> None:
    with pytest.raises(WebToolError, match="cannot resolve nowhere.test"):
        fetch("http://nowhere.test/", Resolver({}), private=False)
