"""``grep_files``: a regular expression over every file of the agent's folders, line by
line, with context lines, a page of matches at a time.

Runs inside the step's write transaction like the other memory tools, so it is bounded:
the pattern's length, the matches collected, the characters shown of one line, and the
time all searches of a call may take together (the ``regex`` module's timeout stops a
pattern that backtracks without end, which the standard ``re`` cannot).
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass

import regex

from engram.memory.file_windows import file_lines
from engram.memory.tool_context import ToolContext, ToolFailure
from engram.store import file_contents, file_views

PAGE_SIZE = 20
"""Matches shown per call; ``offset`` pages through the rest."""
MAX_COLLECTED = 1000
"""Matches collected per call at most: the summary then says there may be more."""
MAX_PATTERN_CHARS = 1000
MAX_CONTEXT_LINES = 10
MAX_LINE_CHARS = 400
"""Characters shown of one line (a minified file can be one line of megabytes)."""
MAX_OUTPUT_CHARS = 20_000
"""Characters of matches shown per call: a page holds fewer matches when they are long."""
MAX_FILES_LISTED = 50
SEARCH_SECONDS = 3.0
"""What all the searches of one call may take together."""


@dataclass(frozen=True)
class Match:
    file_name: str
    line: int
    shown: list[str]
    """The match with its context lines, each as ``> 12: text`` (the match) or ``  11: text``."""


def grep_files(
    ctx: ToolContext,
    pattern: str,
    include: str | None = None,
    context_lines: int | None = 1,
    offset: int | None = None,
) -> str:
    compiled = _compile("pattern", pattern)
    context = _count("context_lines", context_lines, default=1, high=MAX_CONTEXT_LINES)
    start = _count("offset", offset, default=0, high=None)
    views = file_views.views(ctx.session, ctx.agent.id)
    if not views:
        return "No files are attached to search: attach a folder first."
    if include is not None and include.strip():
        names = _name_filter(include.strip())
        views = [view for view in views if names.search(view.name)]
        if not views:
            return f"No attached file's name matches include '{include}'."
    matches, complete = _collect(ctx, views, compiled, context)
    if not matches:
        return f"No matches found for pattern '{pattern}' in {len(views)} files."
    _mark_used(ctx, views, {match.file_name for match in matches})
    return _page(pattern, matches, complete, start)


def _compile(field: str, pattern: str) -> regex.Pattern[str]:
    if not isinstance(pattern, str) or not pattern.strip():
        raise ToolFailure(f"{field} must be a non-empty regular expression")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ToolFailure(f"{field} is {len(pattern)} characters; at most {MAX_PATTERN_CHARS}")
    try:
        return regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        raise ToolFailure(f"{field} is not a valid regular expression: {exc}") from exc


def _name_filter(include: str) -> regex.Pattern[str]:
    """``include`` as a glob (``*.md``) when it reads as one, else as a regular expression,
    matched against ``<folder>/<file>`` names."""
    if any(c in include for c in "*?") and not any(c in include for c in "^$()[]{}\\+|"):
        return _compile("include", fnmatch.translate(include).replace("(?s:", "(?:", 1))
    return _compile("include", include)


def _count(field: str, value: object, *, default: int, high: int | None) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ToolFailure(f"{field} must be a whole number of at least 0, got {value!r}")
    return value if high is None else min(value, high)


def _collect(
    ctx: ToolContext,
    views: list[file_views.FileView],
    compiled: regex.Pattern[str],
    context: int,
) -> tuple[list[Match], bool]:
    """Matches in file-name order, and whether the search saw everything."""
    contents = file_contents.contents(ctx.session, [view.file.id for view in views])
    deadline = time.monotonic() + SEARCH_SECONDS
    matches: list[Match] = []
    for view in sorted(views, key=lambda v: v.name):
        lines = file_lines(contents.get(view.file.id))
        for index, line in enumerate(lines):
            remaining = deadline - time.monotonic()
            try:
                found = remaining > 0 and compiled.search(line, timeout=remaining) is not None
            except TimeoutError:
                remaining = 0
            if remaining <= 0:
                return _stopped(matches), False
            if found:
                matches.append(Match(view.name, index + 1, _around(lines, index, context)))
                if len(matches) >= MAX_COLLECTED:
                    return matches, False
    return matches, True


def _stopped(matches: list[Match]) -> list[Match]:
    """What a search out of time has found; none at all is the model's to hear about."""
    if not matches:
        raise ToolFailure(
            f"the search took longer than {SEARCH_SECONDS:g} s and was stopped; "
            "use a simpler pattern or narrow the files with include"
        )
    return matches


def _around(lines: list[str], index: int, context: int) -> list[str]:
    first, last = max(0, index - context), min(len(lines), index + context + 1)
    return [f"{'>' if n == index else ' '} {n + 1}: {_clip(lines[n])}" for n in range(first, last)]


def _clip(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return f"{line[:MAX_LINE_CHARS]}... [{len(line) - MAX_LINE_CHARS} more characters]"


def _page(pattern: str, matches: list[Match], complete: bool, start: int) -> str:
    total = len(matches)
    if start >= total:
        return (
            f"offset {start} is past the last match: there are {total}"
            f"{'' if complete else '+'} matches; use an offset below {total}."
        )
    blocks = _blocks(matches[start : start + PAGE_SIZE])
    end = start + len(blocks)
    more = "" if complete else "+"
    parts = [
        f"Found {total}{more} matches in {len(_per_file(matches))} files "
        f"(showing matches {start + 1}-{end} of {total}{more}).",
        "Files with matches:",
        *_file_counts(matches),
        *blocks,
        "",
    ]
    if end < total:
        parts.append(f"More matches: call grep_files with the same pattern and offset={end}.")
    elif not complete:
        parts.append(
            "The search stopped before the end of the files (match or time limit): "
            "narrow the pattern or the files with include to see the rest."
        )
    else:
        parts.append("No more matches.")
    return "\n".join(parts)


def _blocks(page: list[Match]) -> list[str]:
    """The page's matches as text, as many as fit in the output budget (at least one)."""
    blocks: list[str] = []
    size = 0
    for match in page:
        block = "\n".join([f"\n=== {match.file_name}:{match.line} ===", *match.shown])
        if blocks and size + len(block) > MAX_OUTPUT_CHARS:
            break
        blocks.append(block)
        size += len(block)
    return blocks


def _per_file(matches: list[Match]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for match in matches:
        counts[match.file_name] = counts.get(match.file_name, 0) + 1
    return counts


def _file_counts(matches: list[Match]) -> list[str]:
    counts = list(_per_file(matches).items())
    lines = [f"  - {name}: {count}" for name, count in counts[:MAX_FILES_LISTED]]
    if len(counts) > MAX_FILES_LISTED:
        lines.append(f"  ... and {len(counts) - MAX_FILES_LISTED} more files")
    return lines


def _mark_used(ctx: ToolContext, views: list[file_views.FileView], names: set[str]) -> None:
    """Files a search found something in count as used: they are closed last."""
    file_contents.mark_used(ctx.session, [view.row for view in views if view.name in names])
