"""``client.blocks`` (blocks by id, shareable between agents) and ``client.agents.blocks``
(an agent's core memory blocks by label)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Literal

from engram.api import serialize
from engram.api.agent_input import block_changes, block_spec
from engram.api.schemas import BlockUpdate, CreateBlock
from engram.client.agent_state import AgentState, Block
from engram.client.arguments import validated_body
from engram.client.identities import AsyncBlockIdentities
from engram.client.resource import Resource
from engram.errors import InvalidInput
from engram.ops import blocks as block_ops
from engram.ops import links
from engram.ops.agents import Cursor
from engram.ops.blocks import BlockFilter

if TYPE_CHECKING:
    from engram.runtime.engine import Services
    from engram.store import tables as t

__all__ = ["AsyncAgentBlocks", "AsyncBlockAgents", "AsyncBlocks", "Block"]

Order = Literal["asc", "desc"]


def page(before: str | None, after: str | None, limit: int | None, order: str) -> Cursor:
    """The list arguments as the ops take them, checked as the API's query parameters are."""
    if limit is not None and not 1 <= limit <= 1000:
        raise InvalidInput("limit", f"must be between 1 and 1000, got {limit}")
    if order not in ("asc", "desc"):
        raise InvalidInput("order", f"must be 'asc' or 'desc', got {order!r}")
    return Cursor(before, after, limit, order == "desc")


def _block(row: t.Block) -> Block:
    return Block.model_validate(serialize.block(row))


def _sent(**fields: Any) -> dict[str, Any]:
    """The keyword arguments the caller gave a value (None means "leave as it is")."""
    return {name: value for name, value in fields.items() if value is not None}


class AsyncBlockAgents(Resource):
    """``client.blocks.agents``: the agents holding a block."""

    async def list(
        self,
        block_id: str,
        *,
        before: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        order: Order = "asc",
    ) -> builtins.list[AgentState]:
        """The agents the block is attached to, oldest first; NotFound for an unknown id."""
        cursor = page(before, after, limit, order)
        found = await block_ops.list_block_agents(self._services, block_id, cursor)
        return [AgentState.model_validate(serialize.agent(item)) for item in found]


class AsyncBlocks(Resource):
    """``client.blocks``: blocks by id, which several agents may share."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.agents = AsyncBlockAgents(services)
        self.identities = AsyncBlockIdentities(services)

    async def create(
        self,
        *,
        label: str,
        value: str,
        limit: int | None = None,
        description: str | None = None,
        read_only: bool = False,
        hidden: bool | None = None,
        metadata: dict[str, Any] | None = None,
        tags: builtins.list[str] | None = None,
    ) -> Block:
        """A new block, attached to no agent yet. Raises InvalidInput naming
        the field for a malformed argument or a value over the limit."""
        body = validated_body(
            CreateBlock,
            _sent(
                label=label,
                value=value,
                limit=limit,
                description=description,
                read_only=read_only,
                hidden=hidden,
                metadata=metadata,
                tags=tags,
            ),
        )
        return Block.model_validate(
            serialize.block(await block_ops.create_block(self._services, block_spec(body)))
        )

    async def list(
        self,
        *,
        label: str | None = None,
        before: str | None = None,
        after: str | None = None,
        limit: int | None = 50,
        order: Order = "asc",
        identity_id: str | None = None,
        identifier_keys: builtins.list[str] | None = None,
        name: str | None = None,
        templates_only: bool = False,
        tags: builtins.list[str] | None = None,
        match_all_tags: bool = False,
        label_search: str | None = None,
        description_search: str | None = None,
        value_search: str | None = None,
        connected_to_agents_count_gt: int | None = None,
        connected_to_agents_count_lt: int | None = None,
        connected_to_agents_count_eq: builtins.list[int] | None = None,
    ) -> builtins.list[Block]:
        """Every block (or those labelled ``label``, of the identities named, or passing the
        other filters as ``GET /v1/blocks/`` applies them), oldest first."""
        cursor = page(before, after, limit, order)
        where = BlockFilter(
            name=name,
            templates_only=templates_only,
            tags=tuple(tags or ()),
            match_all_tags=match_all_tags,
            label_search=label_search,
            description_search=description_search,
            value_search=value_search,
            agents_more_than=connected_to_agents_count_gt,
            agents_fewer_than=connected_to_agents_count_lt,
            agents_exactly=tuple(connected_to_agents_count_eq or ()),
        )
        found = await block_ops.list_blocks(
            self._services,
            cursor,
            label=label,
            identity_id=identity_id,
            identifier_keys=tuple(identifier_keys or ()),
            where=where,
        )
        return [_block(row) for row in found]

    async def retrieve(self, block_id: str) -> Block:
        """The block; NotFound for an unknown id."""
        return Block.model_validate(
            serialize.block(await block_ops.retrieve_block(self._services, block_id))
        )

    async def update(
        self,
        block_id: str,
        *,
        value: str | None = None,
        limit: int | None = None,
        label: str | None = None,
        description: str | None = None,
        read_only: bool | None = None,
        hidden: bool | None = None,
        metadata: dict[str, Any] | None = None,
        tags: builtins.list[str] | None = None,
    ) -> Block:
        """Change the fields given (for every agent holding the block); the others stay."""
        body = validated_body(
            BlockUpdate,
            _sent(
                value=value,
                limit=limit,
                label=label,
                description=description,
                read_only=read_only,
                hidden=hidden,
                metadata=metadata,
                tags=tags,
            ),
        )
        changed = await block_ops.update_block(self._services, block_id, block_changes(body))
        return _block(changed)

    async def delete(self, block_id: str) -> None:
        """Delete the block; the agents holding it lose it. NotFound for an unknown id."""
        await block_ops.delete_block(self._services, block_id)


class AsyncAgentBlocks(Resource):
    """``client.agents.blocks``: an agent's core memory blocks, by label."""

    async def list(
        self,
        agent_id: str,
        *,
        before: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        order: Order = "asc",
    ) -> builtins.list[Block]:
        """The agent's blocks in the order its prompt shows them."""
        cursor = page(before, after, limit, order)
        found = await block_ops.list_agent_blocks(self._services, agent_id, cursor)
        return [_block(row) for row in found]

    async def retrieve(self, block_label: str, *, agent_id: str) -> Block:
        """The agent's block labelled ``block_label``; NotFound for an unknown agent or label."""
        found = await block_ops.retrieve_agent_block(self._services, agent_id, block_label)
        return _block(found)

    async def update(
        self,
        block_label: str,
        *,
        agent_id: str,
        value: str | None = None,
        limit: int | None = None,
        label: str | None = None,
        description: str | None = None,
        read_only: bool | None = None,
        hidden: bool | None = None,
        metadata: dict[str, Any] | None = None,
        tags: builtins.list[str] | None = None,
    ) -> Block:
        """Change the fields given of the agent's block labelled ``block_label``."""
        body = validated_body(
            BlockUpdate,
            _sent(
                value=value,
                limit=limit,
                label=label,
                description=description,
                read_only=read_only,
                hidden=hidden,
                metadata=metadata,
                tags=tags,
            ),
        )
        changes = block_changes(body)
        changed = await block_ops.update_agent_block(self._services, agent_id, block_label, changes)
        return _block(changed)

    async def attach(self, block_id: str, *, agent_id: str) -> AgentState:
        """Attach a block (by id) to the agent; the agent as it now is."""
        return AgentState.model_validate(
            serialize.agent(await links.attach(self._services, agent_id, "block", block_id))
        )

    async def detach(self, block_id: str, *, agent_id: str) -> AgentState:
        """Detach a block (by id) from the agent; the block itself stays."""
        return AgentState.model_validate(
            serialize.agent(await links.detach(self._services, agent_id, "block", block_id))
        )
