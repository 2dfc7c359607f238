"""/v1/groups/: the sleep-time groups ``enable_sleeptime`` makes (docs/sleeptime.md).

Listed, read, changed (how often the sleep-time agent runs, archival upkeep) and deleted
here; the rest of Letta's group API (creating groups of other kinds, group messages,
group blocks) answers 501 as unserved contract paths do. Also the dry run of archival
upkeep, Engram's own."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from engram.api import serialize
from engram.api.contract_paths import ContractPath
from engram.api.deps import Limit, Runtime
from engram.api.group_requests import GroupUpdate
from engram.api.routes.unserved import not_implemented_route
from engram.errors import InvalidInput
from engram.ops import groups as group_ops
from engram.ops.paging import Page

router = APIRouter(tags=["groups"])

ManagerType = Literal[
    "round_robin", "supervisor", "dynamic", "sleeptime", "voice_sleeptime", "swarm"
]

UNSERVED_GROUP_PATHS = (
    ContractPath("POST", "/v1/groups/", "create_group"),
    ContractPath("GET", "/v1/groups/{group_id}/messages", "list_group_messages"),
    ContractPath("PATCH", "/v1/groups/{group_id}/messages/{message_id}", "modify_group_message"),
    ContractPath("PATCH", "/v1/groups/{group_id}/reset-messages", "reset_group_messages"),
    ContractPath("PATCH", "/v1/groups/{group_id}/blocks/attach/{block_id}", "attach_block"),
    ContractPath("PATCH", "/v1/groups/{group_id}/blocks/detach/{block_id}", "detach_block"),
)
"""Letta's group operations Engram does not serve (letta-client 1.12.1 calls none)."""


@router.get("/v1/groups/")
async def list_groups(
    rt: Runtime,
    manager_type: ManagerType | None = None,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Literal["asc", "desc"] = "desc",
    order_by: Literal["created_at"] = "created_at",
    project_id: str | None = None,
) -> list[dict[str, Any]]:
    page = Page(before, after, limit, order == "desc")
    return [serialize.group(row) for row in await group_ops.list_groups(rt, page, manager_type)]


@router.get("/v1/groups/count")
async def count_groups(rt: Runtime) -> int:
    return await group_ops.count_groups(rt)


@router.get("/v1/groups/{group_id}")
async def retrieve_group(group_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.group(await group_ops.retrieve_group(rt, group_id))


@router.patch("/v1/groups/{group_id}")
async def modify_group(group_id: str, body: GroupUpdate, rt: Runtime) -> dict[str, Any]:
    for name in ("agent_ids", "shared_block_ids"):
        if getattr(body, name):
            raise InvalidInput(name, "a sleep-time group's members are fixed by the pairing")
    return serialize.group(await group_ops.modify_group(rt, group_id, body.changes()))


@router.delete("/v1/groups/{group_id}")
async def delete_group(group_id: str, rt: Runtime) -> None:
    await group_ops.delete_group(rt, group_id)


@router.get("/v1/agents/{agent_id}/groups")
async def list_agent_groups(
    agent_id: str, rt: Runtime, manager_type: ManagerType | None = None
) -> list[dict[str, Any]]:
    rows = await group_ops.groups_of_agent(rt, agent_id)
    return [serialize.group(row) for row in rows if manager_type in (None, row.manager_type)]


@router.get("/v1/agents/{agent_id}/archival-memory/duplicates")
async def archival_duplicates(
    agent_id: str,
    rt: Runtime,
    similarity: float | None = Query(default=None, ge=0.5, le=1.0),
    overlap: float | None = Query(default=None, ge=0.5, le=1.0),
) -> list[dict[str, Any]]:
    """What archival upkeep would merge now; changes nothing."""
    sent = {"similarity": similarity, "overlap": overlap}
    overrides = {name: value for name, value in sent.items() if value is not None}
    return await group_ops.archival_duplicates(rt, agent_id, overrides)


for _operation in UNSERVED_GROUP_PATHS:
    not_implemented_route(router, _operation)
