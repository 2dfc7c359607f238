"""Searching the tool catalogue by what a tool does: its name, description and arguments,
matched by keywords, by meaning, or both fused (``POST /v1/tools/search``)."""

from __future__ import annotations

from dataclasses import dataclass

from engram.memory import tool_ranking
from engram.memory.ranking import SearchMode, fuse, strong_matches
from engram.memory.tool_ranking import ToolText, ToolVectors
from engram.ops.deps import HasSearch
from engram.ops.tools import ToolQuery, list_tools
from engram.store import tables as t

# Shared by every search in the process: keyed by model and text, so an edited tool is
# simply embedded again, and bounded, so it cannot grow with the catalogue's history.
_VECTORS = ToolVectors()


@dataclass(frozen=True)
class ToolSearch:
    """Letta's ``ToolSearchRequest``. Without a ``query`` the tools matching the filters
    come in name order with score 0."""

    query: str | None = None
    search_mode: SearchMode = "hybrid"
    tool_types: list[str] | None = None
    tags: list[str] | None = None
    limit: int = 50


@dataclass(frozen=True)
class ToolMatch:
    """One found tool, its 1-based place in each ranking it is in, and its score: BM25 in
    ``fts`` mode, cosine similarity in ``vector`` mode, reciprocal-rank fusion in hybrid."""

    tool: t.Tool
    text: str
    fts_rank: int | None
    vector_rank: int | None
    score: float


async def search(deps: HasSearch, request: ToolSearch) -> list[ToolMatch]:
    """The best ``limit`` tools for the query among those of ``tool_types`` carrying any
    of ``tags``. Vectors come from the bundled local embedding model."""
    rows = await list_tools(deps, ToolQuery(tool_types=request.tool_types), descending=False)
    if request.tags:
        wanted = set(request.tags)
        rows = [row for row in rows if wanted & set(row.tags or [])]
    by_id = {row.id: row for row in rows}
    docs = [
        ToolText(row.id, tool_ranking.tool_text(row.name, row.description, row.json_schema))
        for row in rows
    ]
    texts = {doc.key: doc.text for doc in docs}
    query = (request.query or "").strip()
    if not query:
        ordered = sorted(rows, key=lambda row: row.name)[: request.limit]
        return [ToolMatch(row, texts[row.id], None, None, 0.0) for row in ordered]
    keyword = tool_ranking.keyword_ranking(query, docs) if request.search_mode != "vector" else []
    nearest = await _nearest(deps, query, docs) if request.search_mode != "fts" else []
    ranked = _ranked(request.search_mode, keyword, nearest, request.limit)
    fts_place = {key: place for place, (key, _) in enumerate(keyword, start=1)}
    vector_place = {key: place for place, (key, _) in enumerate(nearest, start=1)}
    return [
        ToolMatch(by_id[key], texts[key], fts_place.get(key), vector_place.get(key), score)
        for key, score in ranked
    ]


async def _nearest(deps: HasSearch, query: str, docs: list[ToolText]) -> list[tuple[str, float]]:
    if not docs:
        return []
    embedder = deps.embeddings.embedder_for(deps.embeddings.local_config())
    vectors = await _VECTORS.vectors(embedder, [doc.text for doc in docs])
    query_vector = (await embedder.embed([query]))[0]
    return tool_ranking.vector_ranking(query_vector, docs, vectors)


def _ranked(
    mode: SearchMode,
    keyword: list[tuple[str, float]],
    nearest: list[tuple[str, float]],
    limit: int,
) -> list[tuple[str, float]]:
    """(tool id, score), best first: one ranking alone, or both fused by rank (the vector
    side cut to its strong matches, so a query nothing matches finds nothing)."""
    if mode == "fts":
        return keyword[:limit]
    if mode == "vector":
        return nearest[:limit]
    keys = [key for key, _ in keyword] + [key for key, _ in nearest]
    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    names = list(index)
    strong = [key for key, _ in strong_matches([(index[key], score) for key, score in nearest])]
    fused = fuse([[index[key] for key, _ in keyword], strong], limit)
    return [(names[i], score) for i, score in fused]
