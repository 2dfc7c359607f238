"""Tools: custom tools from Python source, and which agents carry them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field
from sqlalchemy.orm import Session

from engram.api import rendering, serialize
from engram.api.deps import Limit, Runtime
from engram.api.schemas import MAX_CHARS, Body
from engram.errors import Conflict, NotFound
from engram.ids import new_id
from engram.ops import agents as agent_ops
from engram.runtime.tool_calls import run_agent_tool
from engram.store import agents, tools
from engram.store import tables as t
from engram.tools import custom, sandbox
from engram.tools.confinement import SandboxInForce, sandbox_in_force
from engram.tools.custom import ToolQuery, ToolSpec
from engram.tools.packages import NAME_PATTERN, VERSION_PATTERN
from engram.tools.schema import check_tool_name, find_function, parse_source

router = APIRouter(tags=["tools"])

# Source beyond this is not a tool but an upload; refuse it before parsing.
MAX_SOURCE_CHARS = 1_000_000


class Requirement(Body):
    # Plain names and versions only: nothing here may reach pip as an option or a path.
    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    version: str | None = Field(default=None, max_length=100, pattern=VERSION_PATTERN)


class ToolCreate(Body):
    source_code: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS)
    description: str | None = None
    tags: list[str] | None = None
    source_type: str = "python"
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    return_char_limit: int = Field(default=50_000, ge=1, le=MAX_CHARS)
    pip_requirements: list[Requirement] | None = None
    npm_requirements: list[Requirement] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = False

    def spec(self) -> ToolSpec:
        return ToolSpec(**self.model_dump())


class ToolUpdate(Body):
    source_code: str | None = Field(default=None, min_length=1, max_length=MAX_SOURCE_CHARS)
    description: str | None = None
    tags: list[str] | None = None
    source_type: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    return_char_limit: int | None = Field(default=None, ge=1, le=MAX_CHARS)
    pip_requirements: list[Requirement] | None = None
    npm_requirements: list[Requirement] | None = None
    metadata_: dict[str, Any] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = None


@router.post("/v1/tools/")
async def create_tool(body: ToolCreate, rt: Runtime) -> dict[str, Any]:
    spec = body.spec()
    return await rt.db.write(lambda session: serialize.tool(custom.create(session, spec)))


@router.put("/v1/tools/")
async def upsert_tool(body: ToolCreate, rt: Runtime) -> dict[str, Any]:
    spec = body.spec()
    return await rt.db.write(lambda session: serialize.tool(custom.upsert(session, spec)))


class ToolRunFromSource(Body):
    source_code: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS)
    args: dict[str, Any] = Field(default_factory=dict)
    env_vars: dict[str, str] = Field(default_factory=dict)
    name: str | None = None
    source_type: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    pip_requirements: list[Requirement] | None = None
    npm_requirements: list[Requirement] | None = None


class ToolExecuteRequest(Body):
    args: dict[str, Any] = Field(default_factory=dict)


@router.post("/v1/tools/run")
async def run_tool_from_source(body: ToolRunFromSource, rt: Runtime) -> dict[str, Any]:
    """Run unsaved source once in the sandbox; the answer is a ``tool_return_message``."""
    if body.name is not None:
        check_tool_name(body.name, "name")
        find_function(parse_source(body.source_code), body.name)
        name = body.name
    else:
        name = custom.derive_schema(body.source_code, body.source_type, body.json_schema)["name"]
    in_force = _sandbox(rt)
    run = await sandbox.run_tool(
        body.source_code, name, body.args, env=body.env_vars, limits=_limits(rt), sandbox=in_force
    )
    return {
        "id": new_id("message"),
        "date": datetime.now(UTC).isoformat(),
        "name": name,
        "message_type": "tool_return_message",
        "otid": None,
        "sender_id": None,
        "step_id": None,
        "is_err": not run.ok,
        "seq_id": None,
        "run_id": None,
        "tool_return": run.text(),
        "status": "success" if run.ok else "error",
        "tool_call_id": f"call_{uuid.uuid4().hex[:24]}",
        "stdout": [run.stdout] if run.stdout else [],
        "stderr": [run.stderr] if run.stderr else [],
        "tool_returns": None,
    }


@router.post("/v1/agents/{agent_id}/tools/{tool_name}/run")
async def run_tool_for_agent(
    agent_id: str, tool_name: str, body: ToolExecuteRequest, rt: Runtime
) -> dict[str, Any]:
    """Run one of the agent's custom tools directly, with the agent's tool variables."""

    def _read(session: Session) -> tuple[t.Tool, t.Agent]:
        agent = agents.get(session, agent_id)
        attached = {tool.name: tool for tool in tools.for_agent(session, agent_id)}
        if tool_name not in attached:
            raise NotFound("tool", f"{tool_name} (attached to agent {agent_id})")
        return attached[tool_name], agent

    tool, agent = await rt.db.read(_read)
    if tool.tool_type != custom.CUSTOM or not tool.source_code:
        raise Conflict(
            f"tool '{tool_name}' is built in ({tool.tool_type}); it runs only inside the "
            "agent loop, where its effects are committed with the step"
        )
    _sandbox(rt)
    run = await run_agent_tool(rt, agent, tool, body.args)
    return {
        "status": "success" if run.ok else "error",
        "func_return": run.result if run.ok else run.text(),
        "agent_state": None,
        "stdout": [run.stdout] if run.stdout else [],
        "stderr": [run.stderr] if run.stderr else [],
        "sandbox_config_fingerprint": None,
    }


def _limits(rt: Any) -> sandbox.SandboxLimits:
    return sandbox.SandboxLimits.from_settings(rt.settings)


def _sandbox(rt: Any) -> SandboxInForce:
    """The sandbox in force; a direct run without one is refused with a 503 naming the fix."""
    in_force = sandbox_in_force(rt.settings)
    if in_force.refused:
        raise in_force.refusal()
    return in_force


@router.get("/v1/tools/", response_model=list[dict[str, Any]])
async def list_tools(
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Literal["asc", "desc"] = "desc",
    order_by: Literal["created_at"] = "created_at",
    name: str | None = None,
    names: list[str] | None = Query(default=None),
    tool_ids: list[str] | None = Query(default=None),
    search: str | None = None,
    tool_types: list[str] | None = Query(default=None),
    exclude_tool_types: list[str] | None = Query(default=None),
    return_only_letta_tools: bool | None = False,
) -> Response:
    where = ToolQuery(
        name=name,
        names=names,
        tool_ids=tool_ids,
        search=search,
        tool_types=tool_types,
        exclude_tool_types=exclude_tool_types,
        only_letta_tools=bool(return_only_letta_tools),
    )

    def _read(session: Session) -> Any:
        rows = custom.list_tools(
            session, where, before=before, after=after, limit=limit, descending=order == "desc"
        )
        return [serialize.tool(row) for row in rows]

    return rendering.json_list(await rt.db.read(_read), "tool")


@router.get("/v1/tools/{tool_id}")
async def retrieve_tool(tool_id: str, rt: Runtime) -> dict[str, Any]:
    return await rt.db.read(lambda session: serialize.tool(tools.get(session, tool_id)))


@router.patch("/v1/tools/{tool_id}")
async def modify_tool(tool_id: str, body: ToolUpdate, rt: Runtime) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return await rt.db.write(
        lambda session: serialize.tool(custom.update(session, tool_id, changes))
    )


@router.delete("/v1/tools/{tool_id}")
async def delete_tool(tool_id: str, rt: Runtime) -> dict[str, str]:
    await rt.db.write(lambda session: custom.delete(session, tool_id))
    return {"message": f"tool '{tool_id}' deleted"}


@router.patch("/v1/agents/{agent_id}/tools/attach/{tool_id}")
async def attach_tool(agent_id: str, tool_id: str, rt: Runtime) -> dict[str, Any]:
    def _write(session: Session) -> Any:
        agents.get(session, agent_id)
        tools.attach(session, agent_id, [tools.get(session, tool_id).id])
        session.flush()
        return serialize.agent(agent_ops.bundle(session, agent_id))

    return await rt.db.write(_write)


@router.patch("/v1/agents/{agent_id}/tools/detach/{tool_id}")
async def detach_tool(agent_id: str, tool_id: str, rt: Runtime) -> dict[str, Any]:
    def _write(session: Session) -> Any:
        agents.get(session, agent_id)
        tools.get(session, tool_id)
        tools.detach(session, agent_id, tool_id)
        return serialize.agent(agent_ops.bundle(session, agent_id))

    return await rt.db.write(_write)
