"""HTTP clients for servers under test, all on plain HTTP over loopback.

httpx builds a TLS context for every client it makes, even one that never speaks TLS, and
building one reads the whole CA bundle: about 20 ms of CPU each time, which over thousands of
test clients (and health polls every few milliseconds while a server starts) was a seventh of
the suite's CPU. Every test client shares this one context instead.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

TLS = ssl.create_default_context()
"""The one TLS context of the test clients (unused on loopback HTTP, built once)."""


def client(base_url: str = "", **options: Any) -> httpx.Client:
    return httpx.Client(base_url=base_url, verify=TLS, **options)


def get(url: str, **options: Any) -> httpx.Response:
    return httpx.get(url, verify=TLS, **options)
