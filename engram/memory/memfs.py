"""Core memory as Letta's git-backed memory (MemFS) agents read it: blocks as files.

Letta 0.16.8 keeps the memory of an agent tagged ``git-memory-enabled`` as Markdown files in
a repository, one per block, the label being the file's path without ``.md``. Such an agent
sees its memory in another shape than the ``<memory_blocks>`` list (``core.render_blocks``):

- ``system/persona`` alone, in ``<self>``;
- every other ``system/...`` block as nested tags, one level per path segment (``system/``
  dropped), each with the path of its file (``<projection>``), description and value;
- blocks outside ``system/`` (and ``skills/``, which Letta shows as skills) not in full but
  as a file tree in ``<external_projection>``: the agent knows they exist and can read them.

An agent file from that era carries the tag and labels written for this shape, so an agent
imported from one reads its memory the way its prompt and tools expect. Other agents keep the
list, where a path label is simply the block's tag name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engram.store import tables as t

GIT_MEMORY_TAG = "git-memory-enabled"
SYSTEM_DIR = "system/"
SKILLS_DIR = "skills/"
PERSONA_LABEL = "system/persona"
MEMORY_DIR = "$MEMORY_DIR"


@dataclass
class _Node:
    """One path segment: the block whose label ends here, if any, and the segments below."""

    block: t.Block | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def render_memfs(blocks: Sequence[t.Block]) -> str:
    """The memory section of a MemFS agent's prompt; empty when it has no ``system/`` block
    (Letta shows nothing then, not even the tree of the others)."""
    visible = [block for block in blocks if not block.hidden]
    in_prompt = [block for block in visible if block.label.startswith(SYSTEM_DIR)]
    if not in_prompt:
        return ""
    sections = ["Each <projection> below is the path of the file that holds that memory."]
    persona = next((block for block in in_prompt if block.label == PERSONA_LABEL), None)
    if persona is not None:
        sections.append(_self_section(persona))
    nested = [block for block in in_prompt if block.label != PERSONA_LABEL]
    outside = [block for block in visible if _outside_system(block.label)]
    if nested or outside:
        sections.append(_memory_section(nested, outside))
    return "\n\n".join(sections)


def _outside_system(label: str) -> bool:
    return not label.startswith(SYSTEM_DIR) and not label.startswith(SKILLS_DIR)


def _self_section(persona: t.Block) -> str:
    projection = f"<projection>{MEMORY_DIR}/{PERSONA_LABEL}.md</projection>"
    return f"<self>\n{projection}\n{persona.value.rstrip(chr(10))}\n</self>"


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def _tree(blocks: Sequence[t.Block]) -> _Node:
    """The ``system/`` blocks as a tree of path segments (a segment may be a block and hold
    others at once: ``system/human`` and ``system/human/family``)."""
    root = _Node()
    for block in blocks:
        segments = _segments(block.label.removeprefix(SYSTEM_DIR))
        if not segments:
            continue
        node = root
        for segment in segments:
            node = node.children.setdefault(segment, _Node())
        node.block = block
    return root


def _nested_lines(node: _Node, path: list[str], depth: int) -> list[str]:
    """Each child as a tag holding its file's path, description and value, then its own
    children one level deeper; siblings in name order."""
    pad = "  " * depth
    lines: list[str] = []
    for name in sorted(node.children):
        child = node.children[name]
        lines.append(f"{pad}<{name}>")
        lines += _leaf_lines(child.block, [*path, name], pad + "  ")
        lines += _nested_lines(child, [*path, name], depth + 1)
        lines.append(f"{pad}</{name}>")
    return lines


def _leaf_lines(block: t.Block | None, path: list[str], pad: str) -> list[str]:
    if block is None:
        return []
    lines = [f"{pad}<projection>{MEMORY_DIR}/{SYSTEM_DIR}{'/'.join(path)}.md</projection>"]
    description = (block.description or "").strip()
    if description:
        lines.append(f"{pad}<description>{description}</description>")
    value = block.value.rstrip("\n")
    if value:
        # Only the first line is indented, so the value's own lines read as stored.
        lines.append(f"{pad}{value}")
    return lines


@dataclass
class _Dir:
    """A directory of the file tree: the directories and files (``<name>.md``) in it."""

    dirs: dict[str, _Dir] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)


def _file_tree(blocks: Sequence[t.Block]) -> list[str]:
    """The blocks outside ``system/`` as ``tree`` draws files: directories first, then
    files, each group in name order."""
    root = _Dir()
    for block in blocks:
        segments = _segments(block.label.strip())
        if not segments:
            continue
        directory = root
        for segment in segments[:-1]:
            directory = directory.dirs.setdefault(segment, _Dir())
        directory.files.add(f"{segments[-1]}.md")
    return ["${MEMORY_DIR}/", *_tree_lines(root, "")]


def _tree_lines(directory: _Dir, prefix: str) -> list[str]:
    entries: list[tuple[str, _Dir | None]] = [
        *((name, directory.dirs[name]) for name in sorted(directory.dirs)),
        *((name, None) for name in sorted(directory.files)),
    ]
    lines: list[str] = []
    for index, (name, below) in enumerate(entries):
        last = index == len(entries) - 1
        branch = "└── " if last else "├── "
        if below is None:
            lines.append(f"{prefix}{branch}{name}")
        else:
            lines.append(f"{prefix}{branch}{name}/")
            lines += _tree_lines(below, prefix + ("    " if last else "│   "))
    return lines


def _memory_section(nested: Sequence[t.Block], outside: Sequence[t.Block]) -> str:
    lines = ["<memory>", *_nested_lines(_tree(nested), [], 0)]
    if outside:
        lines += ["<external_projection>", *_file_tree(outside), "</external_projection>"]
    lines.append("</memory>")
    return "\n".join(lines)
