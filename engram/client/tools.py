"""``client.tools`` (the tool catalogue, custom tools) and ``client.agents.tools`` (an
agent's tools: list, attach, detach, run, approval)."""

from __future__ import annotations

import builtins
from typing import Any, Literal

from engram.api import serialize
from engram.api.tool_schemas import (
    ToolCreate,
    ToolExecuteRequest,
    ToolRunFromSource,
    ToolSearchRequest,
    ToolUpdate,
)
from engram.client.agent_state import AgentState, Tool
from engram.client.arguments import OMIT, Omitted, given, plain, validated_body
from engram.client.models import WireModel
from engram.client.resource import Resource
from engram.errors import InvalidInput
from engram.ops import links, tool_search
from engram.ops import tools as tool_ops
from engram.ops.agent_tools import set_requires_approval
from engram.ops.tools import ToolQuery

MAX_LIMIT = 1000


class ToolExecutionResult(WireModel):
    """A direct call of a stored tool."""

    status: Literal["success", "error"]
    func_return: Any = None
    stdout: list[str] | None = None
    stderr: list[str] | None = None


class ToolReturnMessage(WireModel):
    """A direct run of unsaved source."""

    id: str
    name: str | None = None
    message_type: Literal["tool_return_message"] = "tool_return_message"
    tool_return: str
    status: Literal["success", "error"]
    tool_call_id: str
    stdout: list[str] | None = None
    stderr: list[str] | None = None


def check_page(limit: int | None, order: str) -> None:
    """The checks the REST listings make of their cursor parameters."""
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"must be between 1 and {MAX_LIMIT}, not {limit}")
    if order not in ("asc", "desc"):
        raise InvalidInput("order", f"must be 'asc' or 'desc', not {order!r}")


def _tool_body(arguments: dict[str, Any]) -> dict[str, Any]:
    body = given(**arguments)
    for name in ("pip_requirements", "npm_requirements"):
        if name in body:
            body[name] = plain(body[name])
    return body


class ToolSearchResult(WireModel):
    """Letta's ``ToolSearchResult``: a found tool, its places in each ranking, its score."""

    tool: Tool
    embedded_text: str | None = None
    fts_rank: int | None = None
    vector_rank: int | None = None
    combined_score: float


class AsyncTools(Resource):
    """The tools every agent may carry: built-in ones and custom ones defined from source."""

    async def create(
        self,
        *,
        source_code: str,
        args_json_schema: dict[str, Any] | None | Omitted = OMIT,
        default_requires_approval: bool | None | Omitted = OMIT,
        description: str | None | Omitted = OMIT,
        enable_parallel_execution: bool | None | Omitted = OMIT,
        json_schema: dict[str, Any] | None | Omitted = OMIT,
        npm_requirements: list[Any] | None | Omitted = OMIT,
        pip_requirements: list[Any] | None | Omitted = OMIT,
        return_char_limit: int | Omitted = OMIT,
        source_type: str | Omitted = OMIT,
        tags: list[str] | None | Omitted = OMIT,
    ) -> Tool:
        """Define a custom tool from Python source; its schema is read from the source
        unless ``json_schema`` is given. ``Conflict`` if its function name is taken."""
        body = validated_body(ToolCreate, _tool_body(locals_of(locals())))
        return Tool.model_validate(
            serialize.tool(await tool_ops.create(self._services, body.spec()))
        )

    async def upsert(
        self,
        *,
        source_code: str,
        args_json_schema: dict[str, Any] | None | Omitted = OMIT,
        default_requires_approval: bool | None | Omitted = OMIT,
        description: str | None | Omitted = OMIT,
        enable_parallel_execution: bool | None | Omitted = OMIT,
        json_schema: dict[str, Any] | None | Omitted = OMIT,
        npm_requirements: list[Any] | None | Omitted = OMIT,
        pip_requirements: list[Any] | None | Omitted = OMIT,
        return_char_limit: int | Omitted = OMIT,
        source_type: str | Omitted = OMIT,
        tags: list[str] | None | Omitted = OMIT,
    ) -> Tool:
        """Replace the custom tool with this function name, or create it."""
        body = validated_body(ToolCreate, _tool_body(locals_of(locals())))
        return Tool.model_validate(
            serialize.tool(await tool_ops.upsert(self._services, body.spec()))
        )

    async def retrieve(self, tool_id: str) -> Tool:
        return Tool.model_validate(serialize.tool(await tool_ops.retrieve(self._services, tool_id)))

    async def update(
        self,
        tool_id: str,
        *,
        args_json_schema: dict[str, Any] | None | Omitted = OMIT,
        default_requires_approval: bool | None | Omitted = OMIT,
        description: str | None | Omitted = OMIT,
        enable_parallel_execution: bool | None | Omitted = OMIT,
        json_schema: dict[str, Any] | None | Omitted = OMIT,
        metadata: dict[str, Any] | None | Omitted = OMIT,
        npm_requirements: list[Any] | None | Omitted = OMIT,
        pip_requirements: list[Any] | None | Omitted = OMIT,
        return_char_limit: int | None | Omitted = OMIT,
        source_code: str | None | Omitted = OMIT,
        source_type: str | None | Omitted = OMIT,
        tags: list[str] | None | Omitted = OMIT,
    ) -> Tool:
        """Change the fields given; new source, source type or schema re-derives the
        schema. Built-in tools cannot be changed (``Conflict``)."""
        arguments = locals_of(locals())
        del arguments["tool_id"]
        # The REST body names it ``metadata_``, as the Tool it answers does.
        arguments["metadata_"] = arguments.pop("metadata")
        body = validated_body(ToolUpdate, _tool_body(arguments))
        row = await tool_ops.update(self._services, tool_id, body.changes())
        return Tool.model_validate(serialize.tool(row))

    async def list(
        self,
        *,
        after: str | None = None,
        before: str | None = None,
        exclude_tool_types: list[str] | None = None,
        limit: int | None = None,
        name: str | None = None,
        names: list[str] | None = None,
        order: Literal["asc", "desc"] = "desc",
        order_by: Literal["created_at"] = "created_at",
        return_only_letta_tools: bool | None = False,
        search: str | None = None,
        tool_ids: list[str] | None = None,
        tool_types: list[str] | None = None,
    ) -> list[Tool]:
        """Tools matching every filter given, newest first; at most ``limit`` (50 unless
        given), after or before the tool ids given as cursors."""
        check_page(limit, order)
        where = ToolQuery(
            name=name,
            names=names,
            tool_ids=tool_ids,
            search=search,
            tool_types=tool_types,
            exclude_tool_types=exclude_tool_types,
            only_letta_tools=bool(return_only_letta_tools),
        )
        rows = await tool_ops.list_tools(
            self._services,
            where,
            before=before,
            after=after,
            limit=50 if limit is None else limit,
            descending=order == "desc",
        )
        return [Tool.model_validate(serialize.tool(row)) for row in rows]

    async def delete(self, tool_id: str) -> dict[str, str]:
        """Delete a custom tool; agents carrying it lose it."""
        await tool_ops.delete(self._services, tool_id)
        return {"message": f"tool '{tool_id}' deleted"}

    async def search(
        self,
        *,
        query: str | None | Omitted = OMIT,
        search_mode: Literal["vector", "fts", "hybrid"] | Omitted = OMIT,
        tool_types: builtins.list[str] | None | Omitted = OMIT,
        tags: builtins.list[str] | None | Omitted = OMIT,
        limit: int | Omitted = OMIT,
    ) -> builtins.list[ToolSearchResult]:
        """Tools best matching ``query`` by name, description and arguments, best first:
        keywords, meaning, or both fused (``hybrid``, the default)."""
        body = validated_body(
            ToolSearchRequest,
            given(
                query=query,
                search_mode=search_mode,
                tool_types=tool_types,
                tags=tags,
                limit=limit,
            ),
        )
        matches = await tool_search.search(self._services, body.search())
        return ToolSearchResult.each([serialize.tool_search_result(m) for m in matches])

    async def run_tool_from_source(
        self,
        *,
        source_code: str,
        args: dict[str, Any] | Omitted = OMIT,
        env_vars: dict[str, str] | Omitted = OMIT,
        name: str | None | Omitted = OMIT,
        source_type: str | None | Omitted = OMIT,
        json_schema: dict[str, Any] | None | Omitted = OMIT,
        args_json_schema: dict[str, Any] | None | Omitted = OMIT,
        pip_requirements: builtins.list[Any] | None | Omitted = OMIT,
        npm_requirements: builtins.list[Any] | None | Omitted = OMIT,
    ) -> ToolReturnMessage:
        """Run unsaved source once in the sandbox (``POST /v1/tools/run``); nothing is
        stored. Refused (``SandboxUnavailable``) when no sandbox is in force."""
        body = validated_body(ToolRunFromSource, _tool_body(locals_of(locals())))
        outcome = await tool_ops.run_from_source(self._services, body.request())
        return ToolReturnMessage.model_validate(serialize.tool_return_message(outcome))


class AsyncAgentTools(Resource):
    """The tools one agent carries."""

    async def list(
        self,
        agent_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int | None = None,
        order: Literal["asc", "desc"] = "asc",
        order_by: Literal["created_at"] = "created_at",
    ) -> list[Tool]:
        """The agent's tools by name; ``after``/``before`` are tool ids."""
        check_page(limit, order)
        rows = await tool_ops.list_for_agent(
            self._services,
            agent_id,
            before=before,
            after=after,
            limit=limit,
            descending=order == "desc",
        )
        return [Tool.model_validate(serialize.tool(row)) for row in rows]

    async def attach(self, tool_id: str, *, agent_id: str) -> AgentState:
        bundle = await links.attach(self._services, agent_id, "tool", tool_id)
        return AgentState.model_validate(serialize.agent(bundle))

    async def detach(self, tool_id: str, *, agent_id: str) -> AgentState:
        bundle = await links.detach(self._services, agent_id, "tool", tool_id)
        return AgentState.model_validate(serialize.agent(bundle))

    async def run(
        self, tool_name: str, *, agent_id: str, args: dict[str, Any] | Omitted = OMIT
    ) -> ToolExecutionResult:
        """Run one of the agent's custom tools directly, with the agent's tool variables."""
        body = validated_body(ToolExecuteRequest, given(args=args))
        result = await tool_ops.run_for_agent(self._services, agent_id, tool_name, body.args)
        return ToolExecutionResult.model_validate(serialize.tool_execution(result))

    async def update_approval(
        self,
        tool_name: str,
        *,
        agent_id: str,
        body_requires_approval: bool,
        query_requires_approval: bool | None = None,
    ) -> AgentState:
        """Whether the agent's calls of this tool wait for an approval. As over REST, the
        body's value wins; the query's is the deprecated spelling of the same."""
        bundle = await set_requires_approval(
            self._services, agent_id, tool_name, body_requires_approval
        )
        return AgentState.model_validate(serialize.agent(bundle))


def locals_of(frame_locals: dict[str, Any]) -> dict[str, Any]:
    """A method's arguments from its ``locals()``, without ``self``."""
    return {name: value for name, value in frame_locals.items() if name != "self"}
