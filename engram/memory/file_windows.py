"""The lines of a file an agent has open, numbered, as its prompt shows them.

A file's text is the one its parser extracted (``File.content``); its lines are that text
split at newlines, blank lines included, numbered from 1. The same numbering serves the
open window, ``grep_files`` and the line ranges chunks cite, so a line number read
anywhere opens the same line. A window longer than the agent's per-file character limit
is cut at a line boundary, with a note saying where to read on.
"""

from __future__ import annotations

from dataclasses import dataclass

NOTE_ROOM = 100
"""Characters kept free in a cut window for the note saying where to read on."""


class RangeOutsideFile(ValueError):
    """A window that starts after the file's last line."""


def file_lines(content: str | None) -> list[str]:
    """The file's lines; an empty text has none."""
    return content.split("\n") if content else []


@dataclass(frozen=True)
class Span:
    """Lines ``first`` to ``last`` (1-based, inclusive) of a file of ``total`` lines."""

    first: int
    last: int
    total: int
    whole: bool
    """Shown from the start to the end because no range was asked for."""


def span_of(total: int, start_line: int | None, end_line: int | None, *, name: str) -> Span:
    """The lines a window of ``start_line``..``end_line`` shows (None: from the start, to
    the end), clamped to the file; a start past the last line is refused."""
    first = start_line or 1
    if total and first > total:
        raise RangeOutsideFile(f"{name} has {total} lines: a window cannot start at line {first}")
    last = total if end_line is None else min(end_line, total)
    return Span(first, last, total, start_line is None and end_line is None)


def render_window(content: str | None, span: Span, char_limit: int) -> str:
    """The window's header and numbered lines, at most ``char_limit`` characters."""
    lines = file_lines(content)
    if span.whole:
        header = f"[Viewing file start (out of {span.total} lines)]"
    else:
        header = f"[Viewing lines {span.first} to {span.last} (out of {span.total} lines)]"
    numbered = [f"{n}: {lines[n - 1]}" for n in range(span.first, span.last + 1)]
    return _fit([header, *numbered], span, char_limit)


def _fit(parts: list[str], span: Span, char_limit: int) -> str:
    text = "\n".join(parts)
    if len(text) <= char_limit:
        return text
    kept: list[str] = []
    size = 0
    # Room for the note; the window then shows whole lines only.
    budget = max(char_limit - NOTE_ROOM, 0)
    for part in parts:
        if size + len(part) + 1 > budget:
            break
        kept.append(part)
        size += len(part) + 1
    shown = len(kept) - 1  # the header is not a line of the file
    next_line = span.first + max(shown, 0)
    note = (
        f"[Truncated at {char_limit} characters: open the file with "
        f"offset={next_line - 1} to read on from line {next_line}]"
    )
    if not kept:
        return note[:char_limit]
    return "\n".join([*kept, note])[:char_limit]
