"""A reranking server on a loopback port, answering every common ``/rerank`` dialect.

It scores a document by how many of the query's words it holds, plus ten for each word
of ``boost`` it holds: a test chooses a word that puts a document first whatever the
fused order. ``fail`` answers the next requests with an error status, ``delay`` answers
late, ``garbage`` answers something that is not JSON; ``requests`` is what it was asked.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


class FakeReranker:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.boost: set[str] = set()
        self.failures: list[int] = []
        self.delay = 0.0
        self.garbage = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, answer = fake.answer(self.path, body, dict(self.headers))
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        self.requests.clear()
        self.boost = set()
        self.failures = []
        self.delay = 0.0
        self.garbage = False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def score(self, query: str, document: str) -> float:
        held = words(document)
        return len(words(query) & held) + 10.0 * len(self.boost & held)

    def answer(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        self.requests.append({"path": path, "body": body, "headers": headers})
        if self.delay:
            time.sleep(self.delay)
        if self.failures:
            return self.failures.pop(0), {"message": "the reranker is having a bad day"}
        if self.garbage:
            return 200, b"<html>not json</html>"
        texts = body.get("texts", body.get("documents")) or []
        scored = [(i, self.score(body["query"], text)) for i, text in enumerate(texts)]
        scored.sort(key=lambda pair: -pair[1])
        if path == "/rerank" and "texts" in body:  # Hugging Face TEI
            return 200, [{"index": i, "score": s} for i, s in scored]
        items = [{"index": i, "relevance_score": s} for i, s in scored]
        if "top_k" in body:  # Voyage
            return 200, {"data": items[: body["top_k"]], "model": body.get("model")}
        return 200, {"results": items[: body.get("top_n") or len(items)]}

    def documents(self) -> list[list[str]]:
        """The documents of each request, in order."""
        return [r["body"].get("texts", r["body"].get("documents")) for r in self.requests]
