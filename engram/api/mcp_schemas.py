"""Request bodies of the MCP server routes, validated at the edge and turned into the
plain dataclasses ``engram.ops.mcp_servers`` takes; the in-process client validates its
arguments with the same models."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from engram.api.schemas import Body
from engram.errors import InvalidInput
from engram.ops.mcp_servers import DEFAULT_TIMEOUT_SECONDS, STDIO, ServerChanges, ServerFields

Timeout = Annotated[float, Field(gt=0, le=3600)]
ServerName = Annotated[str, Field(min_length=1, max_length=255)]


class StdioConfig(Body):
    mcp_server_type: Literal["stdio"]
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] | None = None
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS


class HttpConfig(Body):
    mcp_server_type: Literal["streamable_http", "sse"]
    server_url: str = Field(min_length=1)
    auth_header: str | None = None
    auth_token: str | None = None
    custom_headers: dict[str, str] | None = None
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS


class CreateServer(Body):
    server_name: ServerName
    config: Annotated[StdioConfig | HttpConfig, Field(discriminator="mcp_server_type")]

    def server_fields(self) -> ServerFields:
        config = self.config
        if isinstance(config, StdioConfig):
            return ServerFields(
                name=self.server_name,
                server_type=STDIO,
                command=config.command,
                args=config.args,
                env=config.env,
                timeout_seconds=config.timeout_seconds,
            )
        return ServerFields(
            name=self.server_name,
            server_type=config.mcp_server_type,
            url=config.server_url,
            auth_header=config.auth_header,
            auth_token=config.auth_token,
            custom_headers=config.custom_headers,
            timeout_seconds=config.timeout_seconds,
        )


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

    def changes(self) -> ServerChanges:
        sent: dict[str, Any] = self.config.model_dump(exclude_unset=True, exclude_none=True)
        server_type = sent.pop("mcp_server_type")
        if "server_url" in sent:
            sent["url"] = sent.pop("server_url")
        return ServerChanges(server_type=server_type, name=self.server_name, **sent)


class ToolRun(Body):
    args: dict[str, Any] = Field(default_factory=dict)


# Letta's older ``/v1/tools/mcp/servers`` routes: a server's config carries its name and
# ``type``; an update's fields depend on the stored server's type.


class LegacyServerConfig(Body):
    server_name: ServerName
    type: Literal["stdio", "sse", "streamable_http"] = "stdio"
    command: str | None = Field(default=None, min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] | None = None
    server_url: str | None = Field(default=None, min_length=1)
    auth_header: str | None = None
    auth_token: str | None = None
    custom_headers: dict[str, str] | None = None
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS

    def server_fields(self) -> ServerFields:
        """The settings to store; a stdio server needs a command, the others a URL."""
        if self.type == STDIO:
            if not self.command:
                raise InvalidInput("command", "a stdio MCP server needs a command to run")
            return ServerFields(
                name=self.server_name,
                server_type=STDIO,
                command=self.command,
                args=self.args,
                env=self.env,
                timeout_seconds=self.timeout_seconds,
            )
        if not self.server_url:
            raise InvalidInput("server_url", f"a {self.type} MCP server needs a server_url")
        return ServerFields(
            name=self.server_name,
            server_type=self.type,
            url=self.server_url,
            auth_header=self.auth_header,
            auth_token=self.auth_token,
            custom_headers=self.custom_headers,
            timeout_seconds=self.timeout_seconds,
        )


class LegacyServerUpdate(Body):
    """Letta's UpdateStdioMCPServer (``stdio_config``), UpdateSSEMCPServer (``token``) or
    UpdateStreamableHTTPMCPServer, read against the stored server's type."""

    server_name: ServerName | None = None
    stdio_config: LegacyServerConfig | None = None
    server_url: str | None = Field(default=None, min_length=1)
    token: str | None = None
    auth_header: str | None = None
    auth_token: str | None = None
    custom_headers: dict[str, str] | None = None

    def changes(self, server_type: str) -> ServerChanges:
        if server_type == STDIO:
            stdio = self.stdio_config
            return ServerChanges(
                server_type=STDIO,
                name=self.server_name,
                command=stdio.command if stdio else None,
                args=stdio.args if stdio else None,
                env=stdio.env if stdio else None,
            )
        return ServerChanges(
            server_type=server_type,
            name=self.server_name,
            url=self.server_url,
            auth_header=self.auth_header,
            auth_token=self.auth_token if self.auth_token is not None else self.token,
            custom_headers=self.custom_headers,
        )
