"""Tools: defining custom tools from source, changing, replacing, deleting and listing
them, an agent's tools, and running a tool directly (outside any agent step).

Built-in tools (any ``tool_type`` but ``custom``) are the server's: their schemas are
refreshed at start-up and their behaviour is code, so clients may attach them but never
change or delete them. Attaching and detaching go through ``engram.ops.links``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from engram.errors import Conflict, InvalidInput, NotFound
from engram.ids import new_id
from engram.ops.deps import HasDb, HasSettings
from engram.runtime.tool_calls import PACKAGES_TIMEOUT, CustomToolDeps, run_agent_tool
from engram.store import agents, tools
from engram.store import tables as t
from engram.store.pagination import apply_cursor, page_of
from engram.tools import packages, sandbox
from engram.tools.confinement import SandboxInForce, sandbox_in_force
from engram.tools.custom import derive_schema
from engram.tools.packages import NAME_PATTERN, VERSION_PATTERN
from engram.tools.schema import check_tool_name, find_function, parse_source

__all__ = [
    "CUSTOM",
    "NAME_PATTERN",
    "VERSION_PATTERN",
    "Execution",
    "SourceRun",
    "SourceRunOutcome",
    "ToolChanges",
    "ToolQuery",
    "ToolSpec",
    "create",
    "delete",
    "list_for_agent",
    "list_tools",
    "retrieve",
    "run_for_agent",
    "run_from_source",
    "update",
    "upsert",
]

CUSTOM = "custom"


class HasToolRun(HasDb, CustomToolDeps, Protocol):
    """Runs an agent's tool directly: the agent's rows, the sandbox and the memory gateway."""


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


@dataclass
class ToolChanges:
    """The fields a change sent (Letta's ToolUpdate). A field left ``None`` keeps its
    value; ``sent`` names the fields given at all, since sending ``source_code``,
    ``json_schema`` or ``source_type`` (even as null) re-derives the schema."""

    source_code: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    source_type: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    return_char_limit: int | None = None
    pip_requirements: list[dict[str, Any]] | None = None
    npm_requirements: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = None
    sent: frozenset[str] = frozenset()

    def resets_schema(self) -> bool:
        return bool(self.sent & {"source_code", "json_schema", "source_type"})


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


@dataclass
class SourceRun:
    """Unsaved source to run once in the sandbox (Letta's ToolRunFromSource)."""

    source_code: str
    args: dict[str, Any] = field(default_factory=dict)
    env_vars: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    source_type: str | None = None
    json_schema: dict[str, Any] | None = None
    # Installed (once per set, as for a stored tool) before the run; npm ones are refused.
    pip_requirements: list[dict[str, Any]] | None = None
    npm_requirements: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class SourceRunOutcome:
    """The function that ran and what it produced."""

    name: str
    run: sandbox.ToolRun


@dataclass(frozen=True)
class Execution:
    """One direct call of a tool, as Letta's ToolExecutionResult reports it."""

    status: Literal["success", "error"]
    func_return: Any
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


async def create(deps: HasDb, spec: ToolSpec) -> t.Tool:
    """A new custom tool; ``Conflict`` if its function name is taken."""
    _check_no_npm(spec.npm_requirements)
    schema = derive_schema(spec.source_code, spec.source_type, spec.json_schema)
    return await deps.db.write(lambda session: _create(session, spec, schema))


async def upsert(deps: HasDb, spec: ToolSpec) -> t.Tool:
    """Replace the custom tool with this function name, or create it."""
    _check_no_npm(spec.npm_requirements)
    schema = derive_schema(spec.source_code, spec.source_type, spec.json_schema)

    def _write(session: Session) -> t.Tool:
        existing = tools.by_names(session, [schema["name"]]).get(schema["name"])
        if existing is None:
            return _create(session, spec, schema)
        _check_custom(existing)
        _fill(existing, spec, schema)
        session.flush()
        return existing

    return await deps.db.write(_write)


async def retrieve(deps: HasDb, tool_id: str) -> t.Tool:
    return await deps.db.read(lambda session: tools.get(session, tool_id))


async def update(deps: HasDb, tool_id: str, changes: ToolChanges) -> t.Tool:
    """Apply the fields ``changes`` carries; new source or schema re-derives the schema."""

    def _write(session: Session) -> t.Tool:
        row = tools.get(session, tool_id)
        _check_custom(row)
        _check_no_npm(changes.npm_requirements)
        if changes.resets_schema():
            _apply_source(session, row, changes)
        _apply_fields(row, changes)
        session.flush()
        return row

    return await deps.db.write(_write)


async def delete(deps: HasDb, tool_id: str) -> None:
    """Delete a custom tool; agents carrying it lose it (their links cascade)."""

    def _write(session: Session) -> None:
        row = tools.get(session, tool_id)
        _check_custom(row)
        session.delete(row)

    await deps.db.write(_write)


async def list_tools(
    deps: HasDb,
    where: ToolQuery,
    *,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = None,
    descending: bool = True,
) -> list[t.Tool]:
    """The tools matching ``where``, newest first unless ``descending`` is False."""

    def _read(session: Session) -> list[t.Tool]:
        query = apply_cursor(
            session,
            _filtered(where),
            model=t.Tool,
            order_column=t.Tool.created_at,
            kind="tool",
            before=before,
            after=after,
            limit=limit,
            descending=descending,
        )
        return list(session.scalars(query))

    return await deps.db.read(_read)


async def list_for_agent(
    deps: HasDb,
    agent_id: str,
    *,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = None,
    descending: bool = False,
) -> list[t.Tool]:
    """The agent's tools by name; the cursors are tool ids, as in the other listings."""

    def _read(session: Session) -> list[t.Tool]:
        agents.get(session, agent_id)
        return page_of(
            tools.for_agent(session, agent_id),
            before=before,
            after=after,
            limit=limit,
            descending=descending,
            kind="tool",
        )

    return await deps.db.read(_read)


async def run_from_source(deps: HasSettings, request: SourceRun) -> SourceRunOutcome:
    """Run unsaved source once in the sandbox, its ``pip_requirements`` installed first (a
    failed install is the run's error); nothing is stored."""
    _check_no_npm(request.npm_requirements)
    specs = packages.specs_of(request.pip_requirements, field="pip_requirements")
    if request.name is not None:
        check_tool_name(request.name, "name")
        find_function(parse_source(request.source_code), request.name)
        name = request.name
    else:
        schema = derive_schema(request.source_code, request.source_type, request.json_schema)
        name = schema["name"]
    confined = _sandbox(deps)
    try:
        installed = await packages.ensure(
            deps.settings.data_dir / "tool-packages",
            specs,
            timeout=PACKAGES_TIMEOUT,
            allow_source_builds=deps.settings.tool_allow_source_builds,
            sandbox=confined,
        )
    except packages.PackagesError as exc:
        return SourceRunOutcome(name, sandbox.ToolRun(False, error=str(exc)))
    run = await sandbox.run_tool(
        request.source_code,
        name,
        request.args,
        env=request.env_vars,
        limits=sandbox.SandboxLimits.from_settings(deps.settings),
        packages=installed,
        sandbox=confined,
    )
    return SourceRunOutcome(name, run)


async def run_for_agent(
    deps: HasToolRun, agent_id: str, tool_name: str, args: dict[str, Any]
) -> Execution:
    """Run one of the agent's custom tools directly, with the agent's tool variables.

    Built-in tools are refused: their effects belong to a step's transaction."""

    def _read(session: Session) -> tuple[t.Tool, t.Agent]:
        agent = agents.get(session, agent_id)
        attached = {tool.name: tool for tool in tools.for_agent(session, agent_id)}
        if tool_name not in attached:
            raise NotFound("tool", f"{tool_name} (attached to agent {agent_id})")
        return attached[tool_name], agent

    tool, agent = await deps.db.read(_read)
    if tool.tool_type != CUSTOM or not tool.source_code:
        raise Conflict(
            f"tool '{tool_name}' is built in ({tool.tool_type}); it runs only inside the "
            "agent loop, where its effects are committed with the step"
        )
    _sandbox(deps)
    run = await run_agent_tool(deps, agent, tool, args)
    return Execution(
        status="success" if run.ok else "error",
        func_return=run.result if run.ok else run.text(),
        stdout=[run.stdout] if run.stdout else [],
        stderr=[run.stderr] if run.stderr else [],
    )


def _sandbox(deps: HasSettings) -> SandboxInForce:
    """The sandbox in force; a direct run without one is refused with a 503 naming the fix."""
    in_force = sandbox_in_force(deps.settings)
    if in_force.refused:
        raise in_force.refusal()
    return in_force


def _check_custom(tool: t.Tool) -> None:
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


def _check_no_npm(npm_requirements: list[dict[str, Any]] | None) -> None:
    """Refuse JavaScript packages rather than store a promise no sandbox keeps: tools here
    are Python, and an ignored requirement would only surface as a failing call."""
    if npm_requirements:
        raise InvalidInput(
            "npm_requirements",
            "tools run as Python only, so JavaScript packages cannot be installed for them; "
            "list Python packages in pip_requirements",
        )


def _create(session: Session, spec: ToolSpec, schema: dict[str, Any]) -> t.Tool:
    _check_name_free(session, schema["name"])
    row = t.Tool(id=new_id("tool"), tool_type=CUSTOM)
    _fill(row, spec, schema)
    session.add(row)
    session.flush()
    return row


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


def _apply_source(session: Session, row: t.Tool, changes: ToolChanges) -> None:
    """New source, source type or schema: the schema derived again, the name kept free."""
    source = changes.source_code or row.source_code or ""
    source_type = changes.source_type or row.source_type
    schema = derive_schema(source, source_type, changes.json_schema)
    if schema["name"] != row.name:
        _check_name_free(session, schema["name"], row.id)
    if not schema.get("description") and row.description:
        schema = {**schema, "description": row.description}
    row.name, row.json_schema = schema["name"], schema
    row.source_code, row.source_type = source, source_type
    row.description = schema.get("description") or row.description


_PLAIN_FIELDS = (
    "return_char_limit",
    "pip_requirements",
    "npm_requirements",
    "args_json_schema",
    "default_requires_approval",
    "enable_parallel_execution",
)


def _apply_fields(row: t.Tool, changes: ToolChanges) -> None:
    if changes.description is not None:
        row.description = changes.description
    if changes.tags is not None:
        row.tags = list(dict.fromkeys(changes.tags))
    if changes.metadata is not None:
        row.metadata_ = changes.metadata
    for name in _PLAIN_FIELDS:
        value = getattr(changes, name)
        if value is not None:
            setattr(row, name, value)


def _filtered(where: ToolQuery) -> Select[Any]:
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
    return query
