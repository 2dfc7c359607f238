"""``client.agents``: create, list, retrieve, update and delete agents, and the agent's
sub-resources (messages, blocks, tools, passages, archives, folders, files)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Literal

from engram.api import agent_include, serialize
from engram.api.agent_input import agent_changes, agent_spec
from engram.api.schemas import CreateAgent, UpdateAgent
from engram.client.agent_files import AgentFileMethods
from engram.client.agent_state import AgentState
from engram.client.archives import AsyncAgentArchives, AsyncAgentPassages
from engram.client.arguments import validated_body
from engram.client.blocks import AsyncAgentBlocks, page
from engram.client.folders import AsyncAgentFiles, AsyncAgentFolders
from engram.client.identities import AsyncAgentIdentities
from engram.client.messages import AsyncAgentMessages
from engram.client.resource import Resource
from engram.client.tools import AsyncAgentTools
from engram.ops import agent_context
from engram.ops import agents as agent_ops

if TYPE_CHECKING:
    from engram.runtime.engine import Services

__all__ = ["AgentState", "AsyncAgents"]


class AsyncAgents(AgentFileMethods, Resource):
    """``client.agents``: agents, and through them their messages, blocks, tools, passages
    and archives."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.messages = AsyncAgentMessages(services)
        self.blocks = AsyncAgentBlocks(services)
        self.tools = AsyncAgentTools(services)
        self.passages = AsyncAgentPassages(services)
        self.archives = AsyncAgentArchives(services)
        self.identities = AsyncAgentIdentities(services)
        self.folders = AsyncAgentFolders(services)
        self.files = AsyncAgentFiles(services)

    async def create(self, **fields: Any) -> AgentState:
        """A new agent from the fields of ``POST /v1/agents/`` (``name``, ``model``,
        ``memory_blocks=[{"label": ..., "value": ...}]``, ``tools``, ``tool_rules``...).

        Fields Engram does not use are ignored, as the API ignores them. Raises InvalidInput
        naming a malformed field or one whose value is impossible (an unknown model, a window
        too small), NotFound for an unknown block or tool id; nothing is created then."""
        body = validated_body(CreateAgent, fields)
        return _agent(await agent_ops.create_agent(self._services, agent_spec(body)))

    async def list(
        self,
        *,
        name: str | None = None,
        tags: builtins.list[str] | None = None,
        match_all_tags: bool = False,
        query_text: str | None = None,
        before: str | None = None,
        after: str | None = None,
        limit: int | None = 50,
        order: Literal["asc", "desc"] = "desc",
        order_by: Literal["created_at", "updated_at", "last_run_completion"] = "created_at",
        ascending: bool | None = None,
        include: builtins.list[str] | None = None,
        identity_id: str | None = None,
        identifier_keys: builtins.list[str] | None = None,
        last_stop_reason: str | None = None,
        include_relationships: builtins.list[str] | None = None,
    ) -> builtins.list[AgentState]:
        """The agents matching the filters, newest first unless ``order="asc"`` (or
        ``ascending=True``). ``include`` (or ``include_relationships``) names the
        relationships shown, the others empty; without either every one is shown.
        ``identity_id`` and ``identifier_keys`` keep the agents of those identities only,
        ``last_stop_reason`` those whose last run ended so."""
        if ascending is not None:
            order = "asc" if ascending else "desc"
        where = agent_ops.AgentFilter(
            name,
            tuple(tags or ()),
            match_all_tags,
            query_text,
            identity_id,
            tuple(identifier_keys or ()),
            last_stop_reason,
        )
        relations = agent_include.chosen(include, include_relationships)
        found = await agent_ops.list_agents(
            self._services, where, page(before, after, limit, order), order_by=order_by
        )
        return [_agent(item, relations) for item in found]

    async def retrieve(
        self, agent_id: str, *, include: builtins.list[str] | None = None
    ) -> AgentState:
        """The agent; NotFound for an unknown id. ``include`` names the relationships
        shown, as on ``list``."""
        relations = agent_include.chosen(include, None)
        return _agent(await agent_ops.retrieve_agent(self._services, agent_id), relations)

    async def update(self, agent_id: str, **fields: Any) -> AgentState:
        """Change the fields given (those of ``PATCH /v1/agents/{agent_id}``); the others
        stay as they are. Raises NotFound for an unknown agent, block or tool id, pydantic's
        InvalidInput naming a bad field, Conflict for an embedding change
        over existing passages; nothing changes then."""
        body = validated_body(UpdateAgent, fields)
        changed = await agent_ops.update_agent(self._services, agent_id, agent_changes(body))
        return _agent(changed)

    async def delete(self, agent_id: str) -> None:
        """Delete the agent with its history and passages; blocks shared with other agents
        stay. NotFound for an unknown id."""
        await agent_ops.delete_agent(self._services, agent_id)

    async def recompile(
        self, agent_id: str, *, dry_run: bool = False, update_timestamp: bool = False
    ) -> str:
        """The system prompt the agent's next step will send, compiled now from its stored
        state; ``dry_run`` also leaves its cached window alone. NotFound for an unknown id.
        ``update_timestamp`` needs no work: the prompt's last edit is always the blocks'."""
        return await agent_context.recompile(self._services, agent_id, dry_run=dry_run)


def _agent(found: agent_ops.AgentBundle, relations: frozenset[str] | None = None) -> AgentState:
    return AgentState.model_validate(agent_include.trimmed(serialize.agent(found), relations))
