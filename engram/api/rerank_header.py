"""The ``X-Engram-Rerank`` header: what the reranking stage did for a search, on every
search route (docs/memory.md, "Reranking"), whose result shapes have no place of their own
for it. Absent when no reranker ran."""

from __future__ import annotations

from fastapi import Response

from engram.ops.passages import RerankNote

HEADER = "X-Engram-Rerank"


def add_rerank_header(response: Response, note: RerankNote | None) -> None:
    """``reranked; reranker=tei:m; candidates=50; duration_ms=12.3`` (a failure adds
    ``error="..."``) on ``response``; nothing when ``note`` is None."""
    if note is None:
        return
    parts = [
        note.status,
        f"reranker={note.reranker}",
        f"candidates={note.candidates}",
        f"duration_ms={note.duration_ns / 1e6:.3f}",
    ]
    if note.error:
        text = " ".join(note.error.split())[:300].replace('"', "'")
        parts.append('error="' + text.encode("latin-1", "replace").decode("latin-1") + '"')
    response.headers[HEADER] = "; ".join(parts)
