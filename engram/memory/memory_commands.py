"""Letta's later memory tools: ``memory`` (one tool, several commands), ``memory_rethink``,
``memory_apply_patch`` and ``memory_finish_edits``, by Letta's names and argument names.

They run like the other built-ins, inside the step's write transaction with a
``ToolContext``: every value change goes through ``edit_block`` (logged in block history,
refused on read-only blocks and over the limit), and blocks they create, remove or
relabel show in the agent's prompt from its next step. A call that fails leaves nothing
behind: the caller runs each call in a savepoint, and a multi-block patch puts the
context's block list back as it was.

The ``memory`` tool names blocks by path, ``/memories/<label>``; a bare label works too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engram.errors import InvalidInput
from engram.memory import core
from engram.memory.patches import BlockPatch, PatchError, apply_hunks, is_multi_block, parse_blocks
from engram.memory.tool_context import (
    ToolContext,
    ToolFailure,
    ToolFunction,
    edit_block,
    record_edit,
)
from engram.store import blocks
from engram.store import tables as t
from engram.tools.schema import builtin_schema

MEMORY_ROOT = "/memories/"
MAX_LABEL_LENGTH = 255


def memory_rethink(ctx: ToolContext, label: str, new_memory: str) -> str:
    """Replace the block's whole value: for reorganising, not for small edits."""
    return edit_block(ctx, label, lambda block: core.rewrite(block, new_memory))


def memory_finish_edits(ctx: ToolContext) -> str:
    """Nothing to do: the call itself tells the run that memory editing is over."""
    return "Memory edits finished."


@dataclass(frozen=True)
class MemoryCommand:
    """The arguments of one ``memory`` call; each command reads the ones it needs."""

    command: str
    path: str | None = None
    file_text: str | None = None
    description: str | None = None
    old_string: str | None = None
    new_string: str | None = None
    insert_line: int | None = None
    insert_text: str | None = None
    old_path: str | None = None
    new_path: str | None = None

    def need(self, name: str) -> Any:
        value = getattr(self, name)
        if value is None:
            raise ToolFailure(f"the {self.command} command needs the argument {name}")
        return value


def memory(
    ctx: ToolContext,
    command: str,
    path: str | None = None,
    file_text: str | None = None,
    description: str | None = None,
    old_string: str | None = None,
    new_string: str | None = None,
    insert_line: int | None = None,
    insert_text: str | None = None,
    old_path: str | None = None,
    new_path: str | None = None,
) -> str:
    handler = _COMMANDS.get(command)
    if handler is None:
        known = ", ".join(_COMMANDS)
        raise ToolFailure(f"unknown command '{command}'; the memory tool's commands are {known}")
    call = MemoryCommand(
        command,
        path=path,
        file_text=file_text,
        description=description,
        old_string=old_string,
        new_string=new_string,
        insert_line=insert_line,
        insert_text=insert_text,
        old_path=old_path,
        new_path=new_path,
    )
    return handler(ctx, call)


def memory_apply_patch(ctx: ToolContext, label: str, patch: str) -> str:
    """One block's hunks, or (with ``*** ... Block:`` headers) several blocks' changes,
    all applied or none."""
    try:
        if is_multi_block(patch):
            return _apply_operations(ctx, parse_blocks(patch))
        if not label:
            raise ToolFailure(
                "label is required for a patch without '*** Add/Update/Delete Block:' headers"
            )
        return _patch_block(ctx, find_block(ctx, label), patch.splitlines())
    except PatchError as exc:
        raise ToolFailure(str(exc)) from exc


# --------------------------------------------------------------------------- blocks by path


def label_of(path: str) -> str:
    return path.removeprefix(MEMORY_ROOT).removeprefix("/")


def find_block(ctx: ToolContext, path: str) -> t.Block:
    """The agent's block a path or label names. Letta's tools once wrote a path's inner
    slashes as underscores; a label spelled that way is found too."""
    label = label_of(path)
    for candidate in (label, label.replace("/", "_")):
        for block in ctx.blocks:
            if block.label == candidate:
                return block
    return ctx.block(label)


def checked_label(path: str) -> str:
    """The label a new or renamed block gets from ``path``; ToolFailure when it is none."""
    label = label_of(path)
    if not label or label != label.strip() or len(label) > MAX_LABEL_LENGTH:
        raise ToolFailure(
            f"'{path}' does not name a block: use {MEMORY_ROOT}<label>, with a label of 1 to "
            f"{MAX_LABEL_LENGTH} characters and no leading or trailing spaces"
        )
    return label


def create_block(ctx: ToolContext, label: str, value: str, description: str | None) -> str:
    if any(block.label == label for block in ctx.blocks):
        raise ToolFailure(f"a memory block labelled '{label}' already exists; edit it instead")
    try:
        block = blocks.new_block(label=label, value=value, description=description)
    except InvalidInput as exc:
        raise ToolFailure(str(exc)) from exc
    ctx.session.add(block)
    ctx.session.flush()
    blocks.attach(ctx.session, ctx.agent.id, block)
    ctx.blocks.append(block)
    if value:  # the first value is the agent's write: history says who made it, and when
        record_edit(ctx, block, "")
    return f"Created memory block '{label}' ({len(value)} of {block.limit} chars)."


def detach_block(ctx: ToolContext, block: t.Block) -> str:
    """Take the block out of the agent's memory. The block itself stays (as Letta leaves
    it), with its history: other agents holding it keep it, and it can be attached again."""
    _check_writable(block)
    blocks.detach(ctx.session, ctx.agent.id, block.id)
    ctx.blocks.remove(block)
    return f"Removed memory block '{block.label}' from your core memory."


def relabel_block(ctx: ToolContext, block: t.Block, label: str) -> str:
    """Give the block a new label, for every agent holding it; refused when one of them
    already has a block so labelled."""
    _check_writable(block)
    if label == block.label:
        return f"Memory block '{label}' already has that label."
    for agent_id in blocks.agent_ids_of(ctx.session, block.id):
        taken = {b.label for b in blocks.for_agent(ctx.session, agent_id) if b.id != block.id}
        if label in taken:
            where = "" if agent_id == ctx.agent.id else f" in agent '{agent_id}', which shares it"
            raise ToolFailure(f"a memory block labelled '{label}' already exists{where}")
    old = block.label
    block.label = label
    return f"Renamed memory block '{old}' to '{label}'."


def _check_writable(block: t.Block) -> None:
    try:
        core.ensure_writable(block)
    except InvalidInput as exc:
        raise ToolFailure(str(exc)) from exc


# --------------------------------------------------------------------------- memory commands


def _view(ctx: ToolContext, call: MemoryCommand) -> str:
    if call.path is None or call.path.strip().rstrip("/") in ("", "/memories"):
        visible = [block for block in ctx.blocks if not block.hidden]
        if not visible:
            return "Your core memory has no blocks."
        return "Your core memory blocks:\n" + "\n".join(_summary(b) for b in visible)
    block = find_block(ctx, call.path)
    if not block.value:
        return f"Memory block '{block.label}' is empty."
    numbered = "\n".join(
        f"{number}→ {line}" for number, line in enumerate(block.value.split("\n"), start=1)
    )
    return (
        f"Memory block '{block.label}' ({len(block.value)} of {block.limit} chars); the line "
        f"numbers are for reference, leave them out of edits:\n{numbered}"
    )


def _summary(block: t.Block) -> str:
    flags = ", read-only" if block.read_only else ""
    about = f": {block.description}" if block.description else ""
    return f"- {MEMORY_ROOT}{block.label} ({len(block.value)} of {block.limit} chars{flags}){about}"


def _create(ctx: ToolContext, call: MemoryCommand) -> str:
    label = checked_label(call.need("path"))
    return create_block(ctx, label, call.file_text or "", call.description)


def _str_replace(ctx: ToolContext, call: MemoryCommand) -> str:
    block = find_block(ctx, call.need("path"))
    old: str = call.need("old_string")
    new: str = call.need("new_string")
    return edit_block(
        ctx, block.label, lambda b: core.replace_unique(b, old, new, argument="old_string")
    )


def _insert(ctx: ToolContext, call: MemoryCommand) -> str:
    block = find_block(ctx, call.need("path"))
    text: str = call.need("insert_text")
    line = -1 if call.insert_line is None else call.insert_line
    return edit_block(ctx, block.label, lambda b: core.insert_line(b, text, line))


def _delete(ctx: ToolContext, call: MemoryCommand) -> str:
    return detach_block(ctx, find_block(ctx, call.need("path")))


def _rename(ctx: ToolContext, call: MemoryCommand) -> str:
    if call.old_path is not None and call.new_path is not None:
        block = find_block(ctx, call.old_path)
        return relabel_block(ctx, block, checked_label(call.new_path))
    if call.path is not None and call.description is not None:
        block = find_block(ctx, call.path)
        _check_writable(block)
        block.description = call.description
        return f"Updated the description of memory block '{block.label}'."
    raise ToolFailure(
        "the rename command needs old_path and new_path (to relabel a block), "
        "or path and description (to change its description)"
    )


_COMMANDS: dict[str, Callable[[ToolContext, MemoryCommand], str]] = {
    "view": _view,
    "create": _create,
    "str_replace": _str_replace,
    "insert": _insert,
    "delete": _delete,
    "rename": _rename,
}

MEMORY_EDIT_COMMANDS = frozenset(_COMMANDS) - {"view"}
"""The commands that change a block: what the run's memory metrics count as edits."""


# --------------------------------------------------------------------------- patches


def _patch_block(ctx: ToolContext, block: t.Block, lines: list[str]) -> str:
    return edit_block(ctx, block.label, lambda b: core.rewrite(b, apply_hunks(b.value, lines)))


def _apply_operations(ctx: ToolContext, operations: list[BlockPatch]) -> str:
    before = list(ctx.blocks)
    try:
        done = [_apply_operation(ctx, operation) for operation in operations]
    except Exception:
        ctx.blocks[:] = before  # the savepoint takes back the rows; this, the list
        raise
    return "Applied the memory patch:\n- " + "\n- ".join(done)


def _apply_operation(ctx: ToolContext, operation: BlockPatch) -> str:
    if operation.action == "add":
        value = "\n".join(operation.lines).rstrip("\n")
        return create_block(ctx, checked_label(operation.label), value, operation.description)
    block = find_block(ctx, operation.label)
    if operation.action == "update":
        return _patch_block(ctx, block, operation.lines)
    if operation.action == "delete":
        return detach_block(ctx, block)
    return relabel_block(ctx, block, checked_label(operation.new_label or ""))


# --------------------------------------------------------------------------- schemas

_LABEL = {"type": "string", "description": "Label of the memory block."}
_PATH = {"type": "string", "description": "The block, as /memories/<label>."}


def _text(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


COMMAND_TOOL_SCHEMAS: dict[str, dict[str, Any]] = {
    "memory": builtin_schema(
        "memory",
        "Manage your core memory blocks, each addressed as /memories/<label>. Commands: "
        "view (a block with numbered lines, or the list of blocks when path is left out); "
        "create (path, description, optional file_text as its first value); "
        "str_replace (path, old_string that appears exactly once, new_string); "
        "insert (path, insert_text, insert_line: the line after which to insert, 0 for the "
        "top, -1 or left out for the end); delete (path: the block leaves your memory); "
        "rename (old_path and new_path to relabel a block, or path and description to "
        "change what it says it is for).",
        {
            "command": {
                "type": "string",
                "enum": list(_COMMANDS),
                "description": "The operation to perform.",
            },
            "path": _PATH,
            "file_text": _text("First value of the block to create."),
            "description": _text("What the block is for (create, or rename with path)."),
            "old_string": _text("Exact text to replace, unique in the block (str_replace)."),
            "new_string": _text("Text to put in its place (str_replace)."),
            "insert_line": {
                "type": "integer",
                "description": "Line after which to insert; 0 for the top, -1 for the end.",
            },
            "insert_text": _text("Text to insert (insert)."),
            "old_path": _text("The block to relabel, as /memories/<label> (rename)."),
            "new_path": _text("Its new path, /memories/<new label> (rename)."),
        },
        ["command"],
    ),
    "memory_rethink": builtin_schema(
        "memory_rethink",
        "Rewrite a memory block whole: the new contents replace everything in it. Use it to "
        "reorganise or condense a block; for small edits use memory_replace or memory_insert.",
        {
            "label": _LABEL,
            "new_memory": _text("The block's complete new contents."),
        },
        ["label", "new_memory"],
    ),
    "memory_finish_edits": builtin_schema(
        "memory_finish_edits",
        "Call when you have finished editing your memory blocks.",
        {},
        [],
    ),
    "memory_apply_patch": builtin_schema(
        "memory_apply_patch",
        "Apply a diff-style patch to memory. For one block, give its label and hunks whose "
        "lines start with ' ' (context), '-' (remove) or '+' (add), separated by '@@' lines; "
        "the context and removed lines must appear exactly once in the block. To change "
        "several blocks, set label to \"\" and start sections with '*** Add Block: <label>' "
        "(an optional 'Description: ...' line, then '+' lines), '*** Update Block: <label>' "
        "(hunks), '*** Delete Block: <label>', or '*** Move to: <new label>' (relabels the "
        "block named just before). Leave out line numbers.",
        {
            "label": _text('The block to patch; "" when the patch has block headers.'),
            "patch": _text("The patch text."),
        },
        ["label", "patch"],
    ),
}

COMMAND_TOOL_FUNCTIONS: dict[str, ToolFunction] = {
    "memory": memory,
    "memory_rethink": memory_rethink,
    "memory_finish_edits": memory_finish_edits,
    "memory_apply_patch": memory_apply_patch,
}
