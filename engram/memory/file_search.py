"""``semantic_search_files``: the chunks of the agent's folders' files, ranked by meaning
and by keywords as archival search ranks passages, each cited by file, page and lines.

A folder's chunks are passages of its own archive, so the archival search serves them
unchanged. The query is embedded before the step's transaction, with the agent's model,
as Letta does; a folder embedded with another model is searched by keywords only (its
vectors are not comparable), and so is every folder when the query could not be embedded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engram.memory import archival
from engram.memory.ranking import SearchMode
from engram.memory.tool_context import ToolContext, ToolFailure
from engram.store import file_contents
from engram.store import tables as t
from engram.store.passages import Scope

DEFAULT_LIMIT = 5
MAX_LIMIT = 50
LINES_SHOWN = 20
"""Lines of one chunk in a result; the window of an opened file shows the rest."""
MAX_LINE_CHARS = 400
MAX_OUTPUT_CHARS = 20_000
"""Characters of passages per call: fewer passages are shown when they are long."""


def semantic_search_files(ctx: ToolContext, query: str, limit: int = DEFAULT_LIMIT) -> str:
    if not isinstance(query, str) or not query.strip():
        raise ToolFailure("query must be non-empty text")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ToolFailure(f"limit must be a whole number of at least 1, got {limit!r}")
    limit = min(limit, MAX_LIMIT)
    folders = ctx.session.execute(
        select(t.Folder.archive_id, t.Folder.embedding_config)
        .join(t.AgentFolder, t.AgentFolder.folder_id == t.Folder.id)
        .where(t.AgentFolder.agent_id == ctx.agent.id)
        .order_by(t.Folder.archive_id)
    ).all()
    if not folders:
        return "No files are attached to search: attach a folder first."
    vector = _query_vector(ctx, query)
    same = [archive for archive, config in folders if _same_model(ctx.agent, config)]
    other = [archive for archive, config in folders if not _same_model(ctx.agent, config)]
    hits = _search(ctx, query, vector, same, "hybrid" if vector else "fts", limit)
    hits += _search(ctx, query, vector, other, "fts", limit)
    hits = sorted(hits, key=lambda hit: -hit.score)[:limit]
    if not hits:
        return f"No passages of the attached files match '{query}'."
    names = _file_names(ctx, [hit.passage.file_id for hit in hits if hit.passage.file_id])
    return _format(query, hits, names)


def _query_vector(ctx: ToolContext, query: str) -> list[float] | None:
    try:
        return ctx.vector(query)
    except ToolFailure:
        return None


def _same_model(agent: t.Agent, folder_config: dict[str, Any]) -> bool:
    mine = agent.embedding_config or {}
    return bool(
        folder_config.get("embedding_model") == mine.get("embedding_model")
        and folder_config.get("embedding_dim") == mine.get("embedding_dim")
    )


def _search(
    ctx: ToolContext,
    query: str,
    vector: list[float] | None,
    archives: list[str],
    mode: SearchMode,
    limit: int,
) -> list[archival.Hit]:
    if not archives:
        return []
    return archival.search_scope(
        ctx.session,
        ctx.vectors,
        Scope(None, tuple(archives)),
        query,
        vector or [],
        top_k=limit,
        mode=mode,
        blending=archival.FILE_CHUNKS,
    )


def _file_names(ctx: ToolContext, file_ids: list[str]) -> dict[str, str]:
    """``<folder>/<file>`` of each file; files the agent sees count as used."""
    rows = ctx.session.execute(
        select(t.File.id, t.Folder.name, t.File.file_name)
        .join(t.Folder, t.Folder.id == t.File.folder_id)
        .where(t.File.id.in_(file_ids))
    ).all()
    views = ctx.session.scalars(
        select(t.FileAgent).where(
            t.FileAgent.agent_id == ctx.agent.id, t.FileAgent.file_id.in_(file_ids)
        )
    ).all()
    file_contents.mark_used(ctx.session, views)
    return {file_id: f"{folder}/{name}" for file_id, folder, name in rows}


def _format(query: str, hits: list[archival.Hit], names: dict[str, str]) -> str:
    files = {names.get(hit.passage.file_id or "", "") for hit in hits}
    parts = [f"Found {len(hits)} passages in {len(files)} files for '{query}':"]
    size = 0
    for number, hit in enumerate(hits, start=1):
        block = _block(number, hit.passage, names)
        if number > 1 and size + len(block) > MAX_OUTPUT_CHARS:
            parts.append(f"\n[{len(hits) - number + 1} more passages left out: ask for fewer]")
            break
        parts.append(block)
        size += len(block)
    return "\n".join(parts)


def _block(number: int, passage: t.Passage, names: dict[str, str]) -> str:
    name = names.get(passage.file_id or "") or "(a file no longer in the folder)"
    lines = passage.text.strip().split("\n")
    shown = [f"  {_clip(line)}" for line in lines[:LINES_SHOWN]]
    if len(lines) > LINES_SHOWN:
        shown.append(f"  ... [{len(lines) - LINES_SHOWN} more lines: open the file to read]")
    header = f"\n=== {name} ({_where(passage.metadata_ or {})}, passage #{number}) ==="
    return "\n".join([header, *shown])


def _clip(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]}... [{len(line) - MAX_LINE_CHARS} more characters]"


def _where(metadata: dict[str, Any]) -> str:
    """Where the chunk came from: its page, if the file has pages, and its lines."""
    cited = []
    if metadata.get("page") is not None:
        cited.append(f"page {metadata['page']}")
    first, last = metadata.get("first_line"), metadata.get("last_line")
    if first is not None:
        cited.append(f"lines {first}-{last}" if last not in (None, first) else f"line {first}")
    return ", ".join(cited) or "location unknown"
