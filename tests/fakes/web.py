"""A small web on a loopback port for the built-in web tools: pages (HTML, a huge one, a
slow one, a PDF, a redirect) and stand-ins for the Exa, Tavily and SearXNG search APIs,
which servers under test are pointed at through their settings."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE = """<!doctype html><html><head><title>Otter facts</title>
<style>body { color: red }</style><script>var secret = "do-not-show";</script></head>
<body><h1>Sea otters</h1><p>Otters hold <a href="https://example.org/hands">hands</a>
while they sleep.</p><ul><li>They use tools.</li></ul></body></html>"""
HUGE_BYTES = 300_000
SLOW_SECONDS = 3.0


class FakeWeb:
    """Pages and search APIs on a loopback port; what the search APIs were asked, and the
    Host header of every page request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.hosts: list[str] = []
        web = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                # A client that stopped reading (a page too large, too slow) is expected.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    web.answer_get(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                web.answer_search(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer_get(self, handler: BaseHTTPRequestHandler) -> None:
        self.hosts.append(handler.headers.get("Host", ""))
        path = urlsplit(handler.path).path
        if path == "/searxng/search":
            query = {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query).items()}
            self.answer_search(handler, query)
            return
        if path == "/slow.html":
            time.sleep(SLOW_SECONDS)
        if path == "/doc.pdf":
            _send(handler, 200, "application/pdf", b"%PDF-1.4 binary")
        elif path == "/huge.html":
            # No Content-Length: the size shows only while reading.
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.end_headers()
            handler.wfile.write(b"<p>" + b"otter " * (HUGE_BYTES // 6) + b"</p>")
        elif path == "/moved":
            handler.send_response(302)
            handler.send_header("Location", "/page.html")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif path in ("/page.html", "/slow.html"):
            _send(handler, 200, "text/html; charset=utf-8", PAGE.encode())
        else:
            _send(handler, 404, "text/plain", b"not here")

    def answer_search(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        path = urlsplit(handler.path).path
        self.requests.append({"path": path, "headers": dict(handler.headers), "body": body})
        results: list[dict[str, Any]]
        if path == "/broken/search":
            _send(handler, 503, "text/plain", b"overloaded")
            return
        if path == "/exa/search":
            results = [
                {
                    "title": "Otters at rest",
                    "url": "https://example.org/otters",
                    "publishedDate": "2025-01-02",
                    "author": "A. Lutra",
                    "highlights": ["Otters hold hands."],
                    "summary": "About otters.",
                    "text": "Full text.",
                }
            ]
        elif path == "/tavily/search":
            results = [
                {
                    "title": "Otters at rest",
                    "url": "https://example.org/otters",
                    "score": 0.9,
                    "content": "Otters hold hands.",
                }
            ]
        else:
            results = [
                {
                    "title": "Otters at rest",
                    "url": "https://example.org/otters",
                    "content": "Otters hold hands.",
                    "engine": "fake",
                },
                {"title": "Elsewhere", "url": "https://other.net/x", "content": "no"},
            ]
        payload = json.dumps({"query": "otters", "results": results}).encode()
        _send(handler, 200, "application/json", payload)


def _send(handler: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
