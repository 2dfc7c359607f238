"""/v1/identities: the users and organisations an integration serves, and the agents and
blocks that belong to each (docs/api.md, "Identities")."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from engram.api import serialize
from engram.api.deps import Limit, Runtime
from engram.api.identity_requests import (
    IdentityCreate,
    IdentityProperties,
    IdentityType,
    IdentityUpdate,
    IdentityUpsert,
)
from engram.ops import identities as identity_ops
from engram.ops import links
from engram.ops.paging import Page

router = APIRouter(tags=["identities"])

Order = Literal["asc", "desc"]


@router.get("/v1/identities/")
async def list_identities(
    rt: Runtime,
    name: str | None = None,
    project_id: str | None = None,
    identifier_key: str | None = None,
    identity_type: IdentityType | None = None,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Order = "desc",
    order_by: Literal["created_at"] = "created_at",
) -> list[dict[str, Any]]:
    query = identity_ops.IdentityQuery(
        name=name,
        project_id=project_id,
        identifier_key=identifier_key,
        identity_type=identity_type,
        page=Page(before, after, limit, order == "desc"),
    )
    return [serialize.identity(item) for item in await identity_ops.list_identities(rt, query)]


@router.post("/v1/identities/")
async def create_identity(body: IdentityCreate, rt: Runtime) -> dict[str, Any]:
    return serialize.identity(await identity_ops.create(rt, body.spec()))


@router.put("/v1/identities/")
async def upsert_identity(body: IdentityUpsert, rt: Runtime) -> dict[str, Any]:
    return serialize.identity(await identity_ops.upsert(rt, body.spec()))


# Before /{identity_id}, which would take "count" for an id.
@router.get("/v1/identities/count")
async def count_identities(rt: Runtime) -> int:
    return await identity_ops.count(rt)


@router.get("/v1/identities/{identity_id}")
async def retrieve_identity(identity_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.identity(await identity_ops.retrieve(rt, identity_id))


@router.patch("/v1/identities/{identity_id}")
async def modify_identity(identity_id: str, body: IdentityUpdate, rt: Runtime) -> dict[str, Any]:
    return serialize.identity(await identity_ops.modify(rt, identity_id, body.changes()))


@router.delete("/v1/identities/{identity_id}")
async def delete_identity(identity_id: str, rt: Runtime) -> None:
    """Delete the identity; its agents and blocks stay."""
    await identity_ops.delete(rt, identity_id)


@router.put("/v1/identities/{identity_id}/properties")
async def upsert_identity_properties(
    identity_id: str, body: IdentityProperties, rt: Runtime
) -> dict[str, Any]:
    """Replace the identity's properties with the list sent."""
    found = await identity_ops.replace_properties(rt, identity_id, body.stored())
    return serialize.identity(found)


@router.get("/v1/identities/{identity_id}/agents")
async def list_identity_agents(
    identity_id: str,
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Order = "desc",
    order_by: Literal["created_at"] = "created_at",
) -> list[dict[str, Any]]:
    page = Page(before, after, limit, order == "desc")
    found = await identity_ops.list_agents(rt, identity_id, page)
    return [serialize.agent(item) for item in found]


@router.get("/v1/identities/{identity_id}/blocks")
async def list_identity_blocks(
    identity_id: str,
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Order = "desc",
    order_by: Literal["created_at"] = "created_at",
) -> list[dict[str, Any]]:
    page = Page(before, after, limit, order == "desc")
    return [serialize.block(row) for row in await identity_ops.list_blocks(rt, identity_id, page)]


@router.patch("/v1/agents/{agent_id}/identities/attach/{identity_id}")
async def attach_identity_to_agent(agent_id: str, identity_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await links.attach(rt, agent_id, "identity", identity_id))


@router.patch("/v1/agents/{agent_id}/identities/detach/{identity_id}")
async def detach_identity_from_agent(
    agent_id: str, identity_id: str, rt: Runtime
) -> dict[str, Any]:
    return serialize.agent(await links.detach(rt, agent_id, "identity", identity_id))


@router.patch("/v1/blocks/{block_id}/identities/attach/{identity_id}")
async def attach_identity_to_block(block_id: str, identity_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.block(await identity_ops.attach_block(rt, block_id, identity_id))


@router.patch("/v1/blocks/{block_id}/identities/detach/{identity_id}")
async def detach_identity_from_block(
    block_id: str, identity_id: str, rt: Runtime
) -> dict[str, Any]:
    return serialize.block(await identity_ops.detach_block(rt, block_id, identity_id))
