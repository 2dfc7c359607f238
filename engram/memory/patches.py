"""Memory patches in Letta's format: unified-diff hunks anchored on text, not line numbers.

A patch without block headers is a list of hunks for one block. A patch with headers
changes several blocks in order::

    *** Add Block: projects
    Description: What the user is working on.
    +Engram, a memory server.
    *** Update Block: human
    @@
     Name: Ada
    -Likes tea.
    +Likes coffee.
    *** Move to: person
    *** Delete Block: scratch

In a hunk, lines starting with " " are context, "-" are removed and "+" are added; the
context and removed lines must appear exactly once in the block, in that order. "@@" lines
separate hunks. Everything here works on strings; the tools apply the result to blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["add", "update", "delete", "move"]

_HEADERS: dict[str, Action] = {
    "*** Add Block:": "add",
    "*** Update Block:": "update",
    "*** Delete Block:": "delete",
    "*** Move to:": "move",
}


class PatchError(ValueError):
    """A patch that cannot be read or does not apply; the message says what to fix."""


@dataclass
class BlockPatch:
    """One operation of a multi-block patch."""

    action: Action
    label: str
    lines: list[str] = field(default_factory=list)
    """``add``: the new block's lines; ``update``: the hunks' lines."""
    description: str | None = None
    new_label: str | None = None
    """``move``: the label ``label`` becomes."""


def is_multi_block(patch: str) -> bool:
    return any(_header(line) is not None for line in patch.splitlines())


def parse_blocks(patch: str) -> list[BlockPatch]:
    """The operations of a multi-block patch, in order; PatchError when a header names no
    block or a move follows nothing it could rename."""
    operations: list[BlockPatch] = []
    current: BlockPatch | None = None
    for line in patch.splitlines():
        header = _header(line)
        if header is None:
            if current is not None:
                _add_body_line(current, line)
            continue
        action, label = header
        if not label:
            raise PatchError(f"'{line.strip()}' must name a block")
        if action == "move":
            operations.append(_move(operations, label))
            current = None
            continue
        current = BlockPatch(action, label)
        operations.append(current)
    if not operations:
        raise PatchError("the patch has no '*** Add Block:', 'Update Block:' or 'Delete Block:'")
    return operations


def apply_hunks(value: str, patch_lines: list[str]) -> str:
    """``value`` with every hunk applied in turn; PatchError when a hunk's context and
    removed lines are missing from the block or appear more than once."""
    hunks = _hunks(patch_lines)
    if not hunks:
        raise PatchError("the patch has no hunk: its lines must start with ' ', '-' or '+'")
    lines = value.split("\n") if value else []
    for hunk in hunks:
        lines = _apply_hunk(lines, hunk)
    return "\n".join(lines)


def _header(line: str) -> tuple[Action, str] | None:
    for prefix, action in _HEADERS.items():
        if line.startswith(prefix):
            return action, line[len(prefix) :].strip()
    return None


def _move(operations: list[BlockPatch], new_label: str) -> BlockPatch:
    if not operations or operations[-1].action == "delete":
        raise PatchError("'*** Move to:' must follow an '*** Add Block:' or '*** Update Block:'")
    previous = operations[-1]
    return BlockPatch("move", previous.new_label or previous.label, new_label=new_label)


def _add_body_line(operation: BlockPatch, line: str) -> None:
    if operation.action == "update":
        operation.lines.append(line)
    elif operation.action == "add":
        if (
            not operation.lines
            and operation.description is None
            and line.startswith("Description:")
        ):
            operation.description = line.removeprefix("Description:").strip()
        elif line.startswith("+"):
            operation.lines.append(line[1:])
        elif not line.strip():
            operation.lines.append("")


def _hunks(patch_lines: list[str]) -> list[list[str]]:
    """The hunks of a single-block patch; file headers ("---", "+++", "*** ") and lines
    that are not diff lines are skipped, and a blank line is an empty context line."""
    hunks: list[list[str]] = []
    hunk: list[str] = []
    for line in patch_lines:
        if line.startswith(("*** ", "---", "+++")):
            continue
        if line.startswith("@@"):
            if hunk:
                hunks.append(hunk)
            hunk = []
        elif line.startswith((" ", "-", "+")):
            hunk.append(line)
        elif not line.strip():
            hunk.append(" ")
    if hunk:
        hunks.append(hunk)
    return hunks


def _apply_hunk(lines: list[str], hunk: list[str]) -> list[str]:
    expected = [line[1:] for line in hunk if line[0] in " -"]
    replacement = [line[1:] for line in hunk if line[0] in " +"]
    if not expected:  # only added lines, with no context: they go at the end
        return lines + replacement
    width = len(expected)
    starts = [i for i in range(len(lines) - width + 1) if lines[i : i + width] == expected]
    if not starts:
        sample = "\n".join(expected[:4])
        raise PatchError(
            "a hunk's context and removed lines were not found in the block; copy them "
            f"exactly from the block's current value. The hunk expects:\n{sample}"
        )
    if len(starts) > 1:
        raise PatchError(
            f"a hunk's context matches {len(starts)} places in the block; "
            "add surrounding lines to make it unique"
        )
    start = starts[0]
    return lines[:start] + replacement + lines[start + width :]
