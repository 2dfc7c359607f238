"""Tools: custom tools from Python source, and which agents carry them."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy.orm import Session

from engram.api import serialize
from engram.api.deps import Limit, Runtime
from engram.api.schemas import MAX_CHARS, Body
from engram.runtime import agents as agent_ops
from engram.store import agents, tools
from engram.tools import custom
from engram.tools.custom import ToolQuery, ToolSpec

router = APIRouter(tags=["tools"])

# Source beyond this is not a tool but an upload; refuse it before parsing.
MAX_SOURCE_CHARS = 1_000_000


class Requirement(Body):
    name: str = Field(min_length=1)
    version: str | None = None


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


@router.get("/v1/tools/")
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
) -> list[dict[str, Any]]:
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

    return await rt.db.read(_read)


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
