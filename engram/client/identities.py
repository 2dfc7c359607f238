"""``client.identities`` (the users and organisations an integration serves, with their
properties, agents and blocks), ``client.agents.identities`` and ``client.blocks.identities``
(tying an agent or a block to an identity)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engram.api import serialize
from engram.api.identity_requests import (
    IdentityCreate,
    IdentityProperties,
    IdentityType,
    IdentityUpdate,
    IdentityUpsert,
)
from engram.client.agent_state import AgentState, Block
from engram.client.arguments import invalid, validated
from engram.client.models import WireModel
from engram.client.resource import Resource
from engram.ops import identities as identity_ops
from engram.ops import links
from engram.ops.paging import Page

if TYPE_CHECKING:
    from engram.runtime.engine import Services

__all__ = ["AsyncAgentIdentities", "AsyncBlockIdentities", "AsyncIdentities", "Identity"]


class IdentityProperty(WireModel):
    key: str
    value: Any
    type: str


class Identity(WireModel):
    """Letta's Identity."""

    id: str
    identifier_key: str
    name: str
    identity_type: str
    project_id: str | None = None
    agent_ids: list[str] = []
    block_ids: list[str] = []
    properties: list[IdentityProperty] = []


def _identity(found: identity_ops.Linked) -> Identity:
    return Identity.model_validate(serialize.identity(found))


class _Cursor(BaseModel):
    """The cursor arguments of the identity listings, bounded as the routes bound them."""

    model_config = ConfigDict(extra="forbid")

    before: str | None = None
    after: str | None = None
    limit: int | None = Field(default=50, ge=1, le=1000)
    order: Literal["asc", "desc"] = "desc"
    order_by: Literal["created_at"] = "created_at"

    def page(self) -> Page:
        return Page(self.before, self.after, self.limit, self.order == "desc")


class _Listing(_Cursor):
    name: str | None = None
    project_id: str | None = None
    identifier_key: str | None = None
    identity_type: IdentityType | None = None


class AsyncIdentityProperties(Resource):
    """``client.identities.properties``."""

    async def upsert(self, identity_id: str, *, body: builtins.list[dict[str, Any]]) -> Identity:
        """The identity's properties become exactly ``body``; answers the identity."""
        try:
            properties = IdentityProperties.model_validate(body)
        except ValidationError as exc:
            raise invalid(exc) from None
        found = await identity_ops.replace_properties(
            self._services, identity_id, properties.stored()
        )
        return _identity(found)


class AsyncIdentityAgents(Resource):
    """``client.identities.agents``: the agents of an identity."""

    async def list(
        self,
        identity_id: str,
        *,
        before: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        order: Literal["asc", "desc"] | None = None,
        order_by: Literal["created_at"] | None = None,
    ) -> builtins.list[AgentState]:
        """Newest first unless ``order="asc"``; NotFound for an unknown identity."""
        cursor = validated(
            _Cursor, before=before, after=after, limit=limit, order=order, order_by=order_by
        )
        found = await identity_ops.list_agents(self._services, identity_id, cursor.page())
        return [AgentState.model_validate(serialize.agent(item)) for item in found]


class AsyncIdentityBlocks(Resource):
    """``client.identities.blocks``: the blocks of an identity."""

    async def list(
        self,
        identity_id: str,
        *,
        before: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        order: Literal["asc", "desc"] | None = None,
        order_by: Literal["created_at"] | None = None,
    ) -> builtins.list[Block]:
        """Newest first unless ``order="asc"``; NotFound for an unknown identity."""
        cursor = validated(
            _Cursor, before=before, after=after, limit=limit, order=order, order_by=order_by
        )
        found = await identity_ops.list_blocks(self._services, identity_id, cursor.page())
        return [Block.model_validate(serialize.block(row)) for row in found]


class AsyncIdentities(Resource):
    """``client.identities``."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.properties = AsyncIdentityProperties(services)
        self.agents = AsyncIdentityAgents(services)
        self.blocks = AsyncIdentityBlocks(services)

    async def create(
        self,
        *,
        identifier_key: str,
        name: str,
        identity_type: IdentityType,
        project_id: str | None = None,
        agent_ids: builtins.list[str] | None = None,
        block_ids: builtins.list[str] | None = None,
        properties: builtins.list[dict[str, Any]] | None = None,
    ) -> Identity:
        """A new identity. Conflict naming ``identifier_key`` when the project has one with
        that key; NotFound for an unknown agent or block id; InvalidInput naming a bad
        field (a property whose value is not of its type)."""
        body = validated(
            IdentityCreate,
            identifier_key=identifier_key,
            name=name,
            identity_type=identity_type,
            project_id=project_id,
            agent_ids=agent_ids,
            block_ids=block_ids,
            properties=properties,
        )
        return _identity(await identity_ops.create(self._services, body.spec()))

    async def upsert(
        self,
        *,
        identifier_key: str,
        name: str,
        identity_type: IdentityType,
        project_id: str | None = None,
        agent_ids: builtins.list[str] | None = None,
        block_ids: builtins.list[str] | None = None,
        properties: builtins.list[dict[str, Any]] | None = None,
    ) -> Identity:
        """Create the identity, or replace the one with this key in this project (its id
        stays)."""
        body = validated(
            IdentityUpsert,
            identifier_key=identifier_key,
            name=name,
            identity_type=identity_type,
            project_id=project_id,
            agent_ids=agent_ids,
            block_ids=block_ids,
            properties=properties,
        )
        return _identity(await identity_ops.upsert(self._services, body.spec()))

    async def list(
        self,
        *,
        name: str | None = None,
        project_id: str | None = None,
        identifier_key: str | None = None,
        identity_type: IdentityType | None = None,
        before: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        order: Literal["asc", "desc"] | None = None,
        order_by: Literal["created_at"] | None = None,
    ) -> builtins.list[Identity]:
        """Newest first unless ``order="asc"``; ``name`` matches part of the name."""
        listing = validated(
            _Listing,
            name=name,
            project_id=project_id,
            identifier_key=identifier_key,
            identity_type=identity_type,
            before=before,
            after=after,
            limit=limit,
            order=order,
            order_by=order_by,
        )
        query = identity_ops.IdentityQuery(
            name=listing.name,
            project_id=listing.project_id,
            identifier_key=listing.identifier_key,
            identity_type=listing.identity_type,
            page=listing.page(),
        )
        return [
            _identity(item) for item in await identity_ops.list_identities(self._services, query)
        ]

    async def count(self) -> int:
        return await identity_ops.count(self._services)

    async def retrieve(self, identity_id: str) -> Identity:
        return _identity(await identity_ops.retrieve(self._services, identity_id))

    async def update(
        self,
        identity_id: str,
        *,
        identifier_key: str | None = None,
        name: str | None = None,
        identity_type: IdentityType | None = None,
        agent_ids: builtins.list[str] | None = None,
        block_ids: builtins.list[str] | None = None,
        properties: builtins.list[dict[str, Any]] | None = None,
    ) -> Identity:
        """Set the fields given; ``agent_ids`` and ``block_ids`` are added to the identity's,
        ``properties`` merged by key."""
        body = validated(
            IdentityUpdate,
            identifier_key=identifier_key,
            name=name,
            identity_type=identity_type,
            agent_ids=agent_ids,
            block_ids=block_ids,
            properties=properties,
        )
        return _identity(await identity_ops.modify(self._services, identity_id, body.changes()))

    async def delete(self, identity_id: str) -> None:
        """Delete the identity; its agents and blocks stay."""
        await identity_ops.delete(self._services, identity_id)


class AsyncAgentIdentities(Resource):
    """``client.agents.identities``: which identities an agent belongs to."""

    async def attach(self, identity_id: str, *, agent_id: str) -> AgentState:
        bundle = await links.attach(self._services, agent_id, "identity", identity_id)
        return AgentState.model_validate(serialize.agent(bundle))

    async def detach(self, identity_id: str, *, agent_id: str) -> AgentState:
        bundle = await links.detach(self._services, agent_id, "identity", identity_id)
        return AgentState.model_validate(serialize.agent(bundle))


class AsyncBlockIdentities(Resource):
    """``client.blocks.identities``: which identities a block belongs to."""

    async def attach(self, identity_id: str, *, block_id: str) -> Block:
        row = await identity_ops.attach_block(self._services, block_id, identity_id)
        return Block.model_validate(serialize.block(row))

    async def detach(self, identity_id: str, *, block_id: str) -> Block:
        row = await identity_ops.detach_block(self._services, block_id, identity_id)
        return Block.model_validate(serialize.block(row))
