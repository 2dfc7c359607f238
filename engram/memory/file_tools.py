"""Letta's three file tools, by Letta's names and argument names: ``open_files``,
``grep_files`` and ``semantic_search_files``.

An agent has them while it has a folder attached (``ops/file_tools.sync_file_tools``).
They run like the other memory tools, inside the step's write transaction with a
``ToolContext``: what ``open_files`` opens shows in the agent's prompt from its next step.
A file is named as the prompt names it, ``<folder name>/<file name>``; a bare file name
works too when only one attached folder has a file of that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engram.memory.directories import max_files_open
from engram.memory.file_grep import grep_files
from engram.memory.file_search import semantic_search_files
from engram.memory.file_windows import RangeOutsideFile, Span, file_lines, span_of
from engram.memory.tool_context import ToolContext, ToolFailure, ToolFunction
from engram.store import file_contents, file_views
from engram.tools.schema import builtin_schema

FILE_TOOL_TYPE = "letta_files_core"


@dataclass(frozen=True)
class OpenRequest:
    """One entry of ``file_requests``: ``offset`` is 0-based, ``length`` counts lines."""

    file_name: str
    offset: int | None
    length: int | None

    @classmethod
    def read(cls, index: int, raw: Any) -> OpenRequest:
        where = f"file_requests[{index}]"
        if not isinstance(raw, dict):
            raise ToolFailure(f"{where} must be an object with file_name, offset and length")
        unknown = sorted(set(raw) - {"file_name", "offset", "length"})
        if unknown:
            raise ToolFailure(f"{where} has unknown field(s) {', '.join(unknown)}")
        name = raw.get("file_name")
        if not isinstance(name, str) or not name.strip():
            raise ToolFailure(f"{where}.file_name must be a file's name")
        offset, length = raw.get("offset"), raw.get("length")
        _check_whole(f"{where}.offset", offset, low=0)
        _check_whole(f"{where}.length", length, low=1)
        return cls(name.strip(), offset, length)

    @property
    def lines(self) -> tuple[int | None, int | None]:
        """The 1-based first and last line asked for (None: from the start, to the end)."""
        if self.offset is None and self.length is None:
            return None, None
        first = (self.offset or 0) + 1
        return first, None if self.length is None else first + self.length - 1


def _check_whole(field: str, value: Any, *, low: int) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ToolFailure(f"{field} must be a whole number of at least {low}, got {value!r}")


def open_files(
    ctx: ToolContext, file_requests: list[dict[str, Any]], close_all_others: bool = False
) -> str:
    if not isinstance(file_requests, list) or not file_requests:
        raise ToolFailure("file_requests must list at least one file to open")
    requests = [OpenRequest.read(i, raw) for i, raw in enumerate(file_requests)]
    limit = max_files_open(ctx.agent)
    if len(requests) > limit:
        raise ToolFailure(f"cannot open {len(requests)} files at once: at most {limit} are open")
    views = file_views.views(ctx.session, ctx.agent.id)
    chosen = [_find(views, request.file_name) for request in requests]
    names = {view.file.id: view.name for view in views}
    contents = file_contents.contents(ctx.session, [view.file.id for view in chosen])
    spans = [
        _span(view, contents.get(view.file.id), request)
        for view, request in zip(chosen, requests, strict=True)
    ]
    notes: list[str] = []
    if close_all_others:
        keep = {view.row.id for view in chosen}
        others = [view for view in views if view.row.is_open and view.row.id not in keep]
        for view in others:
            file_views.close_file(view.row)
        if others:
            notes.append(f"Closed {len(others)} other file(s): {_listed(v.name for v in others)}")
    opened, evicted = [], []
    for view, span in zip(chosen, spans, strict=True):
        before = _shown(view.row.is_open, view.row.start_line, view.row.end_line)
        first, last = (None, None) if span.whole else (span.first, span.last)
        closed = file_views.open_file(
            ctx.session, view.row, start_line=first, end_line=last, max_open=limit
        )
        evicted += [names[file_id] for file_id in closed]
        was = f" (before: {before})" if before else ""
        opened.append(f"{view.name} (lines {span.first}-{span.last} of {span.total}){was}")
    if evicted:
        notes.append(
            f"Closed {len(evicted)} least recently used file(s) to stay within {limit} "
            f"open files: {_listed(evicted)}"
        )
    return "\n".join([f"Opened {_listed(opened)}.", *notes])


def _find(views: list[file_views.FileView], name: str) -> file_views.FileView:
    for view in views:
        if view.name == name:
            return view
    bare = [view for view in views if view.file.file_name == name]
    if len(bare) == 1:
        return bare[0]
    if bare:
        raise ToolFailure(
            f"'{name}' is in several folders; name one of: {_listed(v.name for v in bare)}"
        )
    known = _listed(sorted(view.name for view in views)) or "none (no folder is attached)"
    raise ToolFailure(f"no attached file is named '{name}'; attached files: {known}")


def _span(view: file_views.FileView, content: str | None, request: OpenRequest) -> Span:
    first, last = request.lines
    try:
        return span_of(len(file_lines(content)), first, last, name=view.name)
    except RangeOutsideFile as exc:
        raise ToolFailure(f"{exc}; offset counts from 0 (offset=0 opens line 1)") from exc


def _shown(is_open: bool, start: int | None, end: int | None) -> str:
    if not is_open:
        return ""
    if start is None and end is None:
        return "whole file"
    return f"lines {start or 1}-{end if end is not None else 'end'}"


def _listed(names: Any) -> str:
    return ", ".join(names)


_FILE_NAME = "The file's name as the directories section shows it: <folder name>/<file name>."

FILE_TOOL_SCHEMAS: dict[str, dict[str, Any]] = {
    "open_files": builtin_schema(
        "open_files",
        "Open one or more files of your folders so their lines show in your directories "
        "section, or move the window of a file already open. At most max_files_open files "
        "are open: opening more closes the least recently used first. Without offset and "
        "length the whole file is shown (up to the per-file character limit).",
        {
            "file_requests": {
                "type": "array",
                "description": "The files to open, each with an optional range of lines.",
                "items": {
                    "type": "object",
                    "properties": {
                        "file_name": {"type": "string", "description": _FILE_NAME},
                        "offset": {
                            "type": "integer",
                            "description": "Line to start at, 0-based (offset=0 is line 1). "
                            "Omitted: from the start.",
                        },
                        "length": {
                            "type": "integer",
                            "description": "How many lines to show from offset. Omitted: "
                            "to the end.",
                        },
                    },
                    "required": ["file_name"],
                },
            },
            "close_all_others": {
                "type": "boolean",
                "description": "Close every other open file first.",
                "default": False,
            },
        },
        ["file_requests"],
    ),
    "grep_files": builtin_schema(
        "grep_files",
        "Search the lines of every attached file, open or closed, with a regular expression "
        "(case-insensitive). Shows 20 matches per call with their line numbers and "
        "surrounding lines, and how many matches each file has; page on with offset.",
        {
            "pattern": {"type": "string", "description": "Keyword or regular expression."},
            "include": {
                "type": "string",
                "description": "Only files whose <folder>/<file> name matches this glob "
                "(*.md) or regular expression.",
            },
            "context_lines": {
                "type": "integer",
                "description": "Lines shown before and after each match (like grep -C).",
                "default": 1,
            },
            "offset": {
                "type": "integer",
                "description": "Matches to skip, for the next page (the result says which).",
            },
        },
        ["pattern"],
    ),
    "semantic_search_files": builtin_schema(
        "semantic_search_files",
        "Search the attached files by meaning and keywords, for passages that need not share "
        "your words. Each result names its file, page and lines.",
        {
            "query": {"type": "string", "description": "What to look for."},
            "limit": {
                "type": "integer",
                "description": "How many passages at most.",
                "default": 5,
            },
        },
        ["query"],
    ),
}

FILE_TOOL_FUNCTIONS: dict[str, ToolFunction] = {
    "open_files": open_files,
    "grep_files": grep_files,
    "semantic_search_files": semantic_search_files,
}

FILE_TOOL_NAMES = tuple(FILE_TOOL_FUNCTIONS)
