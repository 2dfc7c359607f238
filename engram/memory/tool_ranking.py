"""Ranking the tool catalogue against a query: keywords (BM25) and meaning (embeddings).

The catalogue is small (tens to a few hundred tools) and changes rarely, so both rankings
run in memory over the tools' text rather than through database indexes: the keyword side
scores BM25 over the tools' words, and the vector side compares the query's embedding with
each tool's, cached by the text's hash so a tool is embedded once per change, not per query.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engram.memory.embeddings import Embedder

# BM25's usual constants: term-frequency saturation and length normalisation.
K1 = 1.2
B = 0.75
# Tool vectors kept across searches; a catalogue larger than this is re-embedded in part.
VECTOR_CACHE_SIZE = 4096

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class ToolText:
    """What a tool is searched by: its name, description and JSON schema as plain text."""

    key: str
    text: str


def tool_text(name: str, description: str | None, json_schema: dict[str, Any] | None) -> str:
    """The searchable text of a tool: the name (also split at underscores), the
    description, and each parameter's name and description from the JSON schema."""
    parts = [name, name.replace("_", " "), description or ""]
    parameters = (json_schema or {}).get("parameters") or {}
    for arg, spec in (parameters.get("properties") or {}).items():
        about = spec.get("description", "") if isinstance(spec, dict) else ""
        parts.append(f"{arg}: {about}".strip())
    return "\n".join(part for part in parts if part)


def words(text: str) -> list[str]:
    """Lower-case words of ``text``, split at anything not a letter or digit (so
    ``send_message`` reads as ``send`` and ``message``)."""
    return _WORD.findall(text.lower())


def keyword_ranking(query: str, docs: Sequence[ToolText]) -> list[tuple[str, float]]:
    """(key, BM25 score) of every tool sharing a word with ``query``, best first."""
    terms = set(words(query))
    if not terms or not docs:
        return []
    counted = [Counter(words(doc.text)) for doc in docs]
    lengths = [sum(counts.values()) for counts in counted]
    average = sum(lengths) / len(docs) or 1.0
    holding = {term: sum(1 for counts in counted if term in counts) for term in terms}
    scored: list[tuple[str, float]] = []
    for doc, counts, length in zip(docs, counted, lengths, strict=True):
        score = 0.0
        for term in terms:
            frequency = counts.get(term, 0)
            if frequency == 0:
                continue
            rarity = math.log(1 + (len(docs) - holding[term] + 0.5) / (holding[term] + 0.5))
            norm = frequency + K1 * (1 - B + B * length / average)
            score += rarity * frequency * (K1 + 1) / norm
        if score > 0:
            scored.append((doc.key, score))
    return sorted(scored, key=lambda item: -item[1])


class ToolVectors:
    """Tool embeddings by (embedding model, text hash), least recently used dropped first."""

    def __init__(self, size: int = VECTOR_CACHE_SIZE) -> None:
        self._size = size
        self._vectors: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    async def vectors(self, embedder: Embedder, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, embedding in one batch only the texts not cached."""
        keys = [(embedder.handle, _digest(text)) for text in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            by_key = {key: text for key, text in zip(keys, texts, strict=True)}
            fresh = await embedder.embed([by_key[key] for key in missing])
            for key, vector in zip(missing, fresh, strict=True):
                self._vectors[key] = vector
        out = []
        for key in keys:
            self._vectors.move_to_end(key)
            out.append(self._vectors[key])
        while len(self._vectors) > self._size:
            self._vectors.popitem(last=False)
        return out


def vector_ranking(
    query_vector: Sequence[float], docs: Sequence[ToolText], vectors: Sequence[Sequence[float]]
) -> list[tuple[str, float]]:
    """(key, cosine similarity) of every tool, most similar first."""
    query_norm = math.sqrt(sum(x * x for x in query_vector)) or 1.0
    scored = []
    for doc, vector in zip(docs, vectors, strict=True):
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        dot = sum(a * b for a, b in zip(query_vector, vector, strict=True))
        scored.append((doc.key, dot / (query_norm * norm)))
    return sorted(scored, key=lambda item: -item[1])


def _digest(text: str) -> str:
    return hashlib.sha256(json.dumps(text).encode()).hexdigest()
