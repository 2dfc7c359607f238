"""Reading a function's docstring: its description and what each parameter means.

Google style (``Args:`` with ``name (type): text``), NumPy style (``Parameters`` over a
dashed line, ``name : type`` then indented text) and reST fields (``:param name: text``) are
understood; anything else is description.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

_GOOGLE_PARAM_SECTIONS = {
    "args",
    "arguments",
    "parameters",
    "params",
    "keyword args",
    "keyword arguments",
    "other parameters",
}
_GOOGLE_HEADER = re.compile(
    r"^(args|arguments|parameters|params|keyword args|keyword arguments|other parameters|"
    r"returns?|yields?|raises|examples?|notes?|attributes|see also|warnings?|todo|"
    r"references)\s*:\s*$",
    re.IGNORECASE,
)
_NUMPY_RULE = re.compile(r"^\s*-{3,}\s*$")
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}([\w\s,*]+?)\s*(?::\s*(.*))?$")
_REST_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")
_REST_FIELD = re.compile(r"^:\w+")


@dataclass
class Docstring:
    summary: str = ""
    description: str = ""
    params: dict[str, str] = field(default_factory=dict)


def parse_docstring(text: str | None) -> Docstring:
    """Split a docstring into its description and per-parameter descriptions."""
    if not text or not text.strip():
        return Docstring()
    lines = inspect.cleandoc(text).splitlines()
    sections = _sections(lines)
    paragraphs = _paragraphs(sections.pop("", []))
    doc = Docstring(
        summary=paragraphs[0] if paragraphs else "", description="\n\n".join(paragraphs)
    )
    for title, body in sections.items():
        name, style = title.split("|", 1)
        if name in _GOOGLE_PARAM_SECTIONS:
            entries = _numpy_entries(body) if style == "numpy" else _google_entries(body)
            doc.params.update(entries)
        elif name == ":rest":
            doc.params.update(_rest_entries(body))
    return doc


def _sections(lines: list[str]) -> dict[str, list[str]]:
    """Lines grouped by section header; key '' is the description before any section."""
    sections: dict[str, list[str]] = {"": []}
    current = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if stripped and not line[0].isspace() and _NUMPY_RULE.match(following):
            current = f"{stripped.lower()}|numpy"
            sections.setdefault(current, [])
            i += 2
            continue
        if not line[:1].isspace() and _GOOGLE_HEADER.match(stripped):
            current = f"{stripped.rstrip(':').strip().lower()}|google"
            sections.setdefault(current, [])
        elif not line[:1].isspace() and _REST_FIELD.match(stripped):
            current = ":rest|rest"
            sections.setdefault(current, []).append(line)
        else:
            sections[current].append(line)
        i += 1
    return sections


def _paragraphs(lines: list[str]) -> list[str]:
    """Blank-line separated paragraphs, each on one line."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [" ".join(words) for words in paragraphs if words]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _entries(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(entry line, continuation lines) pairs: entries sit at the section's least indent."""
    content = [line for line in lines if line.strip()]
    if not content:
        return []
    base = min(_indent(line) for line in content)
    entries: list[tuple[str, list[str]]] = []
    for line in content:
        if _indent(line) == base:
            entries.append((line.strip(), []))
        elif entries:
            entries[-1][1].append(line.strip())
    return entries


def _google_entries(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for head, rest in _entries(lines):
        match = _GOOGLE_ENTRY.match(head)
        if match:
            out[match.group(1)] = " ".join([match.group(3), *rest]).strip()
    return out


def _numpy_entries(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for head, rest in _entries(lines):
        match = _NUMPY_ENTRY.match(head)
        if not match:
            continue
        text = " ".join(rest).strip()
        for name in match.group(1).split(","):
            name = name.strip().lstrip("*")
            if name.isidentifier():
                out[name] = text
    return out


def _rest_entries(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    name: str | None = None
    for line in lines:
        match = _REST_PARAM.match(line.strip())
        if match:
            name = match.group(1)
            out[name] = match.group(2).strip()
        elif _REST_FIELD.match(line.strip()):
            name = None
        elif name is not None and line.strip():
            out[name] = f"{out[name]} {line.strip()}".strip()
    return out
