"""How an import meets the server's tools. Tools are shared by name: changing one for the
imported agent changes it for every agent using it. So a file tool whose name is taken
replaces the server's code only with ``override_existing_tools``, and changes what the tool
may reach (its network access, the packages installed for it, its kind) only with
``allow_tool_permission_changes`` as well; the outcome names each tool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from engram.errors import Conflict
from engram.ids import new_id
from engram.ops.agent_file.document import FileTool
from engram.runtime.builtin_tools import BUILTIN_SCHEMAS
from engram.store import tables as t
from engram.store import tools

PERMISSION_FLAG = "allow_tool_permission_changes"


@dataclass
class ToolOutcome:
    """Which of the file's tools were created, replaced on the server, or kept as they were."""

    created: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ToolPolicy:
    """The import's say over existing tools (its ``override_existing_tools`` and
    ``allow_tool_permission_changes`` options)."""

    override_existing: bool = True
    allow_permission_changes: bool = False


def resolve_tools(
    session: Session, file_tools: dict[str, FileTool], refs: list[str], policy: ToolPolicy
) -> tuple[dict[str, t.Tool], ToolOutcome]:
    """File tool id -> tool row, for the ``refs`` the file's agents use.

    Raises Conflict, naming the tools and the flag, when the file would change an existing
    tool's network access or packages without ``allow_permission_changes``; nothing is
    changed then."""
    existing = tools.by_names(session, [str(file_tools[ref].tool_name) for ref in refs])
    rows: dict[str, t.Tool] = {}
    outcome = ToolOutcome()
    decided: dict[str, t.Tool] = {}  # name -> row: the first file tool of a name decides
    to_write: list[tuple[t.Tool, FileTool]] = []
    for ref in refs:
        spec = file_tools[ref]
        name = str(spec.tool_name)
        if name in decided:
            rows[ref] = decided[name]
            continue
        row = existing.get(name)
        if row is None:
            row = t.Tool(id=new_id("tool"), name=name, tool_type="custom", json_schema={})
            session.add(row)
            outcome.created.append(name)
            to_write.append((row, spec))
        elif (
            name in BUILTIN_SCHEMAS
            or row.tool_type.startswith("letta_")
            or not policy.override_existing
            or _values(row) == _file_values(spec)
        ):
            outcome.kept.append(name)
        else:
            outcome.replaced.append(name)
            to_write.append((row, spec))
        rows[ref] = decided[name] = row
    changes = [
        change
        for row, spec in to_write
        if row.name in outcome.replaced and (change := _permission_change(row, spec))
    ]
    if changes and not policy.allow_permission_changes:
        raise Conflict(
            "file.tools: importing would change what existing tools may reach, for every "
            f"agent using them: {'; '.join(changes)}. Pass {PERMISSION_FLAG}=true to allow "
            "it, override_existing_tools=false to keep the server's tools as they are, or "
            "rename the tools in the file"
        )
    for row, spec in to_write:
        _write(row, spec)
    session.flush()
    return rows, outcome


def _file_values(spec: FileTool) -> dict[str, Any]:
    return {
        "tool_type": spec.tool_type,
        "description": spec.description,
        "source_type": spec.source_type or "python",
        "source_code": spec.source_code,
        "json_schema": spec.json_schema or {},
        "tags": spec.tags or [],
        "return_char_limit": spec.return_char_limit,
        "pip_requirements": spec.pip_requirements or None,
        "metadata_": spec.metadata_ or {},
    }


def _values(row: t.Tool) -> dict[str, Any]:
    return {
        "tool_type": row.tool_type,
        "description": row.description,
        "source_type": row.source_type,
        "source_code": row.source_code,
        "json_schema": row.json_schema or {},
        "tags": row.tags or [],
        "return_char_limit": row.return_char_limit,
        "pip_requirements": row.pip_requirements or None,
        "metadata_": row.metadata_ or {},
    }


def _write(row: t.Tool, spec: FileTool) -> None:
    for key, value in _file_values(spec).items():
        setattr(row, key, value)


def _permission_change(row: t.Tool, spec: FileTool) -> str | None:
    """What replacing ``row`` by ``spec`` would change in the tool's reach, said for the
    user; None when its kind, network access and packages stay as they are."""
    said = []
    if row.tool_type != spec.tool_type:  # an MCP server's tool would become local code
        said.append(f"tool_type {row.tool_type} -> {spec.tool_type}")
    before, after = _network(row.metadata_), _network(spec.metadata_)
    if before != after:
        said.append(f"network {'on' if before else 'off'} -> {'on' if after else 'off'}")
    packages_before, packages_after = row.pip_requirements or [], spec.pip_requirements or []
    if packages_before != packages_after:
        said.append(f"pip_requirements {_packages(packages_before)} -> {_packages(packages_after)}")
    return f"'{row.name}' ({', '.join(said)})" if said else None


def _network(metadata: dict[str, Any] | None) -> bool:
    # The same test the sandbox applies (runtime/tool_calls.py: tool_network_allowed).
    return (metadata or {}).get("network") is True


def _packages(requirements: list[Any]) -> str:
    named = [
        f"{item.get('name')}{'==' + item['version'] if item.get('version') else ''}"
        if isinstance(item, dict)
        else str(item)
        for item in requirements
    ]
    return f"[{', '.join(named)}]" if named else "none"
