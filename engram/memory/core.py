"""Core memory: how blocks read in the prompt, and the edits the agent may make to them.

Edits are pure functions on strings so their rules (limits, exact matches) are testable
without a database; callers persist the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engram.errors import ReadOnlyBlock
from engram.store import tables as t
from engram.store.blocks import check_fits
from engram.times import on_clock


class EditRejected(ValueError):
    """An edit the agent asked for cannot apply; the message goes back to the model."""


def render_blocks(blocks: Sequence[t.Block]) -> str:
    """Every visible block with its label, description and fill level."""
    parts = [
        "<memory_blocks>",
        "Your core memory, always visible to you, edited with your memory tools.",
    ]
    for block in blocks:
        if block.hidden:
            continue
        flags = ' read_only="true"' if block.read_only else ""
        parts.append(f"<{block.label}{flags}>")
        if block.description:
            parts.append(f"<description>{block.description}</description>")
        parts.append(
            f"<metadata>chars_current={len(block.value)} chars_limit={block.limit}</metadata>"
        )
        parts.append(f"<value>\n{block.value}\n</value>")
        parts.append(f"</{block.label}>")
    parts.append("</memory_blocks>")
    return "\n".join(parts)


def render_metadata(
    *, recall_count: int, archival_count: int, last_edit: datetime | None, zone: str | None = None
) -> str:
    """What lies outside the window, so the model knows when searching is worth it; the
    time on the agent's clock (``zone``, an IANA name; None is UTC)."""
    edited = on_clock(last_edit, zone) if last_edit else "never"
    return (
        "<memory_metadata>\n"
        f"- Core memory last edited: {edited}\n"
        f"- {recall_count} messages are in recall memory (search them with conversation_search)\n"
        f"- {archival_count} passages are in archival memory (search with archival_memory_search)\n"
        "</memory_metadata>"
    )


def ensure_writable(block: t.Block) -> None:
    if block.read_only:
        raise ReadOnlyBlock(block.label)


def append(block: t.Block, content: str) -> str:
    ensure_writable(block)
    value = f"{block.value}\n{content}" if block.value else content
    check_fits(block.label, value, block.limit)
    return value


def replace_all(block: t.Block, old: str, new: str) -> str:
    ensure_writable(block)
    if not old:
        raise EditRejected("old_content must not be empty")
    if old not in block.value:
        raise EditRejected(f"'{old}' does not appear in block '{block.label}'")
    value = block.value.replace(old, new)
    check_fits(block.label, value, block.limit)
    return value


def replace_unique(block: t.Block, old: str, new: str, *, argument: str = "old_str") -> str:
    """Replace the one occurrence of ``old``; ``argument`` is what the caller names it."""
    ensure_writable(block)
    if not old:
        raise EditRejected(f"{argument} must not be empty")
    occurrences = block.value.count(old)
    if occurrences != 1:
        where = "does not appear" if occurrences == 0 else f"appears {occurrences} times"
        raise EditRejected(
            f"{argument} {where} in block '{block.label}'; it must appear exactly once "
            "(quote more surrounding text to make it unique)"
        )
    value = block.value.replace(old, new, 1)
    check_fits(block.label, value, block.limit)
    return value


def insert_line(block: t.Block, text: str, line: int) -> str:
    """Insert ``text`` after line ``line`` (1-based), so 0 puts it first; -1 appends.

    A line past the end is refused rather than appended, as Letta does, so a model that
    miscounted learns it instead of finding its text in the wrong place."""
    ensure_writable(block)
    lines = block.value.split("\n") if block.value else []
    if line == -1:
        line = len(lines)
    if not 0 <= line <= len(lines):
        raise EditRejected(
            f"insert_line must be -1 or between 0 and {len(lines)} (block '{block.label}' "
            f"has {len(lines)} lines), got {line}"
        )
    lines[line:line] = [text]
    value = "\n".join(lines)
    check_fits(block.label, value, block.limit)
    return value


def rewrite(block: t.Block, value: str) -> str:
    """The block's whole new value, once it is known writable and within its limit."""
    ensure_writable(block)
    check_fits(block.label, value, block.limit)
    return value
