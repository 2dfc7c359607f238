"""MCP servers: register them, list and refresh their tools, run a tool directly.

A server is reached before anything is stored: registering or changing one that cannot be
started or reached answers 502 and leaves everything as it was.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Response
from fastapi.routing import APIRouter
from pydantic import Field
from sqlalchemy.orm import Session

from engram.api import serialize
from engram.api.deps import Runtime
from engram.api.schemas import Body
from engram.errors import InvalidInput
from engram.mcp import STDIO, McpServerError, list_tools, registry
from engram.mcp.registry import ServerFields
from engram.runtime.engine import Services
from engram.store import tables as t

router = APIRouter(tags=["mcp-servers"])

Timeout = Annotated[float, Field(gt=0, le=3600)]
ServerName = Annotated[str, Field(min_length=1, max_length=255)]


class StdioConfig(Body):
    mcp_server_type: Literal["stdio"]
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] | None = None
    timeout_seconds: Timeout = registry.DEFAULT_TIMEOUT_SECONDS


class HttpConfig(Body):
    mcp_server_type: Literal["streamable_http", "sse"]
    server_url: str = Field(min_length=1)
    auth_header: str | None = None
    auth_token: str | None = None
    custom_headers: dict[str, str] | None = None
    timeout_seconds: Timeout = registry.DEFAULT_TIMEOUT_SECONDS


class CreateServer(Body):
    server_name: ServerName
    config: Annotated[StdioConfig | HttpConfig, Field(discriminator="mcp_server_type")]


class StdioUpdate(Body):
    mcp_server_type: Literal["stdio"]
    command: str | None = Field(default=None, min_length=1)
    args: list[str] | None = None
    env: dict[str, str] | None = None
    timeout_seconds: Timeout | None = None


class HttpUpdate(Body):
    mcp_server_type: Literal["streamable_http", "sse"]
    server_url: str | None = Field(default=None, min_length=1)
    auth_header: str | None = None
    auth_token: str | None = None
    custom_headers: dict[str, str] | None = None
    timeout_seconds: Timeout | None = None


class UpdateServer(Body):
    server_name: ServerName | None = None
    config: Annotated[StdioUpdate | HttpUpdate, Field(discriminator="mcp_server_type")]


class ToolRun(Body):
    args: dict[str, Any] = Field(default_factory=dict)


def _check_url(url: str | None) -> None:
    if url is not None and not url.startswith(("http://", "https://")):
        raise InvalidInput("config.server_url", f"'{url}' is not an http:// or https:// URL")


def _new_fields(body: CreateServer) -> ServerFields:
    config = body.config
    if isinstance(config, StdioConfig):
        return ServerFields(
            name=body.server_name,
            server_type=STDIO,
            command=config.command,
            args=config.args,
            env=config.env,
            timeout_seconds=config.timeout_seconds,
        )
    _check_url(config.server_url)
    return ServerFields(
        name=body.server_name,
        server_type=config.mcp_server_type,
        url=config.server_url,
        auth_header=config.auth_header,
        auth_token=config.auth_token,
        custom_headers=config.custom_headers,
        timeout_seconds=config.timeout_seconds,
    )


def _changed_fields(current: ServerFields, body: UpdateServer) -> ServerFields:
    sent = body.config.model_dump(exclude_unset=True, exclude_none=True)
    server_type = sent.pop("mcp_server_type")
    if server_type != current.server_type:
        raise InvalidInput(
            "config.mcp_server_type",
            f"server '{current.name}' is {current.server_type}, not {server_type}; "
            "delete it and register it again to change its type",
        )
    if "server_url" in sent:
        sent["url"] = sent.pop("server_url")
        _check_url(sent["url"])
    if body.server_name is not None:
        sent["name"] = body.server_name
    return current.merged(sent)


def server_view(row: t.McpServer) -> dict[str, Any]:
    """Letta's server shape; secrets masked."""
    view: dict[str, Any] = {
        "id": row.id,
        "server_name": row.name,
        "mcp_server_type": row.server_type,
        "timeout_seconds": row.timeout_seconds,
    }
    if row.server_type == STDIO:
        view.update(command=row.command, args=row.args or [], env=registry.masked_map(row.env))
    else:
        token = registry.mask(row.auth_token) if row.auth_token else None
        view.update(
            server_url=row.url,
            auth_header=row.auth_header,
            auth_token=token,
            custom_headers=registry.masked_map(row.custom_headers),
        )
    return view


async def _stored_fields(rt: Services, server_id: str) -> ServerFields:
    return await rt.db.read(lambda session: registry.fields_of(registry.get(session, server_id)))


@router.post("/v1/mcp-servers/")
async def create_server(body: CreateServer, rt: Runtime) -> dict[str, Any]:
    settings = _new_fields(body)
    listed = await list_tools(settings.config())
    return await rt.db.write(
        lambda session: server_view(registry.create(session, settings, listed))
    )


@router.get("/v1/mcp-servers/")
async def list_servers(rt: Runtime) -> list[dict[str, Any]]:
    return await rt.db.read(
        lambda session: [server_view(row) for row in registry.list_servers(session)]
    )


@router.get("/v1/mcp-servers/{mcp_server_id}")
async def retrieve_server(mcp_server_id: str, rt: Runtime) -> dict[str, Any]:
    return await rt.db.read(lambda session: server_view(registry.get(session, mcp_server_id)))


@router.patch("/v1/mcp-servers/{mcp_server_id}")
async def update_server(mcp_server_id: str, body: UpdateServer, rt: Runtime) -> dict[str, Any]:
    settings = _changed_fields(await _stored_fields(rt, mcp_server_id), body)
    listed = await list_tools(settings.config())
    view = await rt.db.write(
        lambda session: server_view(registry.update(session, mcp_server_id, settings, listed))
    )
    await rt.mcp_sessions.close(mcp_server_id)  # the next call opens one with the new settings
    return view


@router.delete("/v1/mcp-servers/{mcp_server_id}")
async def delete_server(mcp_server_id: str, rt: Runtime) -> Response:
    await rt.db.write(lambda session: registry.delete_server(session, mcp_server_id))
    await rt.mcp_sessions.forget(mcp_server_id)
    return Response(status_code=200)


@router.patch("/v1/mcp-servers/{mcp_server_id}/refresh")
async def refresh_server_tools(
    mcp_server_id: str, rt: Runtime, agent_id: str | None = None
) -> dict[str, Any]:
    """Re-list the server's tools: new ones become tool rows, vanished ones are deleted.
    ``agent_id`` is accepted for Letta's sake; every agent sees the same rows."""
    settings = await _stored_fields(rt, mcp_server_id)
    listed = await list_tools(settings.config())

    def _write(session: Session) -> dict[str, Any]:
        report = registry.sync_tools(session, registry.get(session, mcp_server_id), listed)
        return {"added": report.added, "updated": report.updated, "removed": report.removed}

    report = await rt.db.write(_write)
    # Calls from now on reach the server as it just listed its tools (a stdio server's
    # process may still run the code it had before the refresh).
    rt.mcp_sessions.retire(mcp_server_id)
    return report


@router.get("/v1/mcp-servers/{mcp_server_id}/tools")
async def list_server_tools(mcp_server_id: str, rt: Runtime) -> list[dict[str, Any]]:
    def _read(session: Session) -> list[dict[str, Any]]:
        registry.get(session, mcp_server_id)
        return [serialize.tool(row) for row in registry.tools_of(session, mcp_server_id)]

    return await rt.db.read(_read)


@router.get("/v1/mcp-servers/{mcp_server_id}/tools/{tool_id}")
async def retrieve_server_tool(mcp_server_id: str, tool_id: str, rt: Runtime) -> dict[str, Any]:
    return await rt.db.read(
        lambda session: serialize.tool(registry.tool_of(session, mcp_server_id, tool_id))
    )


@router.post("/v1/mcp-servers/{mcp_server_id}/tools/{tool_id}/run")
async def run_server_tool(
    mcp_server_id: str, tool_id: str, body: ToolRun, rt: Runtime
) -> dict[str, Any]:
    """Call the tool directly, outside any agent; a failing call is a result with status
    ``error``, as it would be for an agent."""

    def _read(session: Session) -> tuple[ServerFields, str]:
        tool = registry.tool_of(session, mcp_server_id, tool_id)
        return registry.fields_of(registry.get(session, mcp_server_id)), tool.name

    settings, name = await rt.db.read(_read)
    try:
        result = await rt.mcp_sessions.call_tool(mcp_server_id, settings.config(), name, body.args)
    except McpServerError as exc:
        return _execution_result("error", str(exc))
    return _execution_result("error" if result.is_error else "success", result.text)


def _execution_result(status: str, func_return: str) -> dict[str, Any]:
    return {
        "status": status,
        "func_return": func_return,
        "agent_state": None,
        "stdout": [],
        "stderr": [],
        "sandbox_config_fingerprint": None,
    }
