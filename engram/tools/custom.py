"""Custom tools: defining them from source, changing, replacing, deleting and listing them.

Built-in tools (any ``tool_type`` but ``custom``) are the server's: their schemas are
refreshed at start-up and their behaviour is code, so clients may attach them but never
change or delete them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.errors import Conflict, InvalidInput
from engram.ids import new_id
from engram.store import tables as t
from engram.store import tools
from engram.store.pagination import apply_cursor
from engram.tools.schema import check_tool_name, find_function, function_schema, parse_source

CUSTOM = "custom"
SOURCE_TYPES = {"python"}


@dataclass
class ToolSpec:
    """A tool as a client defines it (Letta's ToolCreate)."""

    source_code: str
    description: str | None = None
    tags: list[str] | None = None
    source_type: str = "python"
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    return_char_limit: int = 50_000
    pip_requirements: list[dict[str, Any]] | None = None
    npm_requirements: list[dict[str, Any]] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = False
    metadata: dict[str, Any] | None = None


def derive_schema(
    source_code: str, source_type: str | None, json_schema: dict[str, Any] | None
) -> dict[str, Any]:
    """The tool's JSON schema: the client's, checked against the source, or the source's own.

    Raises ``InvalidInput`` naming ``source_type``, ``json_schema`` or ``source_code``.
    """
    if (source_type or "python") not in SOURCE_TYPES:
        raise InvalidInput("source_type", f"'{source_type}' is not supported; use 'python'")
    if json_schema is None:
        return function_schema(source_code)
    schema = _unwrapped(json_schema)
    name = schema.get("name")
    if not isinstance(name, str):
        raise InvalidInput("json_schema", "needs a 'name' naming the tool's function")
    check_tool_name(name, "json_schema")
    parameters = schema.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
        raise InvalidInput("json_schema", "'parameters' must be a JSON schema of type 'object'")
    if not isinstance(parameters.get("properties", {}), dict):
        raise InvalidInput("json_schema", "'parameters.properties' must be an object")
    find_function(parse_source(source_code), name)
    return {**schema, "parameters": parameters}


def _unwrapped(json_schema: dict[str, Any]) -> dict[str, Any]:
    """Accept OpenAI's ``{"type": "function", "function": {...}}`` wrapper as well."""
    inner = json_schema.get("function")
    if json_schema.get("type") == "function" and isinstance(inner, dict):
        return dict(inner)
    return dict(json_schema)


def check_custom(tool: t.Tool) -> None:
    if tool.tool_type != CUSTOM:
        raise Conflict(
            f"tool '{tool.name}' ({tool.id}) is built in ({tool.tool_type}) and cannot be "
            "changed or deleted; define a custom tool with another name instead"
        )


def _check_name_free(session: Session, name: str, tool_id: str | None = None) -> None:
    existing = tools.by_names(session, [name]).get(name)
    if existing is not None and existing.id != tool_id:
        raise Conflict(
            f"a tool named '{name}' already exists ({existing.id}); "
            "change it with PATCH /v1/tools/{id} or replace it with PUT /v1/tools/"
        )


def check_no_npm(npm_requirements: list[dict[str, Any]] | None) -> None:
    """Refuse JavaScript packages rather than store a promise no sandbox keeps: tools here
    are Python, and an ignored requirement would only surface as a failing call."""
    if npm_requirements:
        raise InvalidInput(
            "npm_requirements",
            "tools run as Python only, so JavaScript packages cannot be installed for them; "
            "list Python packages in pip_requirements",
        )


def create(session: Session, spec: ToolSpec) -> t.Tool:
    """A new custom tool; ``Conflict`` if its function name is taken."""
    check_no_npm(spec.npm_requirements)
    schema = derive_schema(spec.source_code, spec.source_type, spec.json_schema)
    _check_name_free(session, schema["name"])
    row = t.Tool(id=new_id("tool"), tool_type=CUSTOM)
    _fill(row, spec, schema)
    session.add(row)
    session.flush()
    return row


def upsert(session: Session, spec: ToolSpec) -> t.Tool:
    """Replace the custom tool with this function name, or create it."""
    check_no_npm(spec.npm_requirements)
    schema = derive_schema(spec.source_code, spec.source_type, spec.json_schema)
    existing = tools.by_names(session, [schema["name"]]).get(schema["name"])
    if existing is None:
        return create(session, spec)
    check_custom(existing)
    _fill(existing, spec, schema)
    session.flush()
    return existing


def _fill(row: t.Tool, spec: ToolSpec, schema: dict[str, Any]) -> None:
    if not schema.get("description") and spec.description:
        schema = {**schema, "description": spec.description}
    row.name = schema["name"]
    row.json_schema = schema
    row.description = spec.description or schema.get("description") or None
    row.source_type = spec.source_type
    row.source_code = spec.source_code
    row.tags = list(dict.fromkeys(spec.tags or []))
    row.return_char_limit = spec.return_char_limit
    row.pip_requirements = spec.pip_requirements
    row.npm_requirements = spec.npm_requirements
    row.args_json_schema = spec.args_json_schema
    row.default_requires_approval = spec.default_requires_approval
    row.enable_parallel_execution = spec.enable_parallel_execution
    row.metadata_ = spec.metadata or {}


def update(session: Session, tool_id: str, changes: dict[str, Any]) -> t.Tool:
    """Apply the fields present in ``changes``; new source or schema re-derives the schema."""
    row = tools.get(session, tool_id)
    check_custom(row)
    check_no_npm(changes.get("npm_requirements"))
    if "source_code" in changes or "json_schema" in changes or "source_type" in changes:
        source = changes.get("source_code") or row.source_code or ""
        source_type = changes.get("source_type") or row.source_type
        schema = derive_schema(source, source_type, changes.get("json_schema"))
        if schema["name"] != row.name:
            _check_name_free(session, schema["name"], row.id)
        if not schema.get("description") and row.description:
            schema = {**schema, "description": row.description}
        row.name, row.json_schema = schema["name"], schema
        row.source_code, row.source_type = source, source_type
        row.description = schema.get("description") or row.description
    if changes.get("description") is not None:
        row.description = changes["description"]
    if changes.get("tags") is not None:
        row.tags = list(dict.fromkeys(changes["tags"]))
    if changes.get("metadata_") is not None:
        row.metadata_ = changes["metadata_"]
    for name in (
        "return_char_limit",
        "pip_requirements",
        "npm_requirements",
        "args_json_schema",
        "default_requires_approval",
        "enable_parallel_execution",
    ):
        if changes.get(name) is not None:
            setattr(row, name, changes[name])
    session.flush()
    return row


def delete(session: Session, tool_id: str) -> None:
    """Delete a custom tool; agents carrying it lose it (their links cascade)."""
    row = tools.get(session, tool_id)
    check_custom(row)
    session.delete(row)


@dataclass
class ToolQuery:
    """Filters of ``GET /v1/tools/``; every one that is set must hold."""

    name: str | None = None
    names: list[str] | None = None
    tool_ids: list[str] | None = None
    search: str | None = None
    tool_types: list[str] | None = None
    exclude_tool_types: list[str] | None = None
    only_letta_tools: bool = False


def list_tools(
    session: Session,
    where: ToolQuery,
    *,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
) -> list[t.Tool]:
    query = select(t.Tool)
    if where.name is not None:
        query = query.where(t.Tool.name == where.name)
    if where.names:
        query = query.where(t.Tool.name.in_(where.names))
    if where.tool_ids:
        query = query.where(t.Tool.id.in_(where.tool_ids))
    if where.search:
        query = query.where(t.Tool.name.icontains(where.search, autoescape=True))
    if where.tool_types:
        query = query.where(t.Tool.tool_type.in_(where.tool_types))
    if where.exclude_tool_types:
        query = query.where(t.Tool.tool_type.not_in(where.exclude_tool_types))
    if where.only_letta_tools:
        query = query.where(t.Tool.tool_type != CUSTOM)
    query = apply_cursor(
        session,
        query,
        model=t.Tool,
        order_column=t.Tool.created_at,
        kind="tool",
        before=before,
        after=after,
        limit=limit,
        descending=descending,
    )
    return list(session.scalars(query))
