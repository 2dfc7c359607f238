"""Core memory blocks: an agent's by label, and blocks by id (shareable between agents)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from engram.api import agent_include, rendering, serialize
from engram.api.agent_input import block_changes, block_spec
from engram.api.deps import Cursor, Limit, ListCursor, Runtime
from engram.api.schemas import BlockUpdate, CreateBlock
from engram.ops import blocks as block_ops
from engram.ops import links
from engram.ops.agents import Cursor as Page
from engram.ops.blocks import BlockEdit, BlockFilter

router = APIRouter(tags=["memory"])


def _page(cursor: ListCursor) -> Page:
    return Page(cursor.before, cursor.after, cursor.limit, cursor.order == "desc")


@router.get("/v1/agents/{agent_id}/core-memory/blocks", response_model=list[dict[str, Any]])
# With a trailing slash too: the label route below would otherwise take it as label "".
@router.get(
    "/v1/agents/{agent_id}/core-memory/blocks/",
    response_model=list[dict[str, Any]],
    include_in_schema=False,
)
async def list_agent_blocks(agent_id: str, rt: Runtime, cursor: Cursor) -> Response:
    found = await block_ops.list_agent_blocks(rt, agent_id, _page(cursor))
    return rendering.json_list([serialize.block(b) for b in found], "block")


# Labels may be paths (`system/human/family`): `:path` takes the rest of the URL, whether the
# client sent the slashes as they are or as %2F (decoded before routing), as letta-client does.
@router.get("/v1/agents/{agent_id}/core-memory/blocks/{label:path}")
async def retrieve_agent_block(agent_id: str, label: str, rt: Runtime) -> dict[str, Any]:
    return serialize.block(await block_ops.retrieve_agent_block(rt, agent_id, label))


@router.patch("/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}")
async def attach_block(agent_id: str, block_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await links.attach(rt, agent_id, "block", block_id))


@router.patch("/v1/agents/{agent_id}/core-memory/blocks/detach/{block_id}")
async def detach_block(agent_id: str, block_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await links.detach(rt, agent_id, "block", block_id))


# After attach/ and detach/, which keep their meaning (docs/memory.md, "Block labels").
@router.patch("/v1/agents/{agent_id}/core-memory/blocks/{label:path}")
async def modify_agent_block(
    agent_id: str, label: str, body: BlockUpdate, rt: Runtime
) -> dict[str, Any]:
    changed = await block_ops.update_agent_block(rt, agent_id, label, block_changes(body))
    return serialize.block(changed)


@router.post("/v1/blocks/")
async def create_block(body: CreateBlock, rt: Runtime) -> dict[str, Any]:
    return serialize.block(await block_ops.create_block(rt, block_spec(body)))


@router.get("/v1/blocks/", response_model=list[dict[str, Any]])
async def list_blocks(
    rt: Runtime,
    label: str | None = None,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Literal["asc", "desc"] = "asc",
    identity_id: str | None = None,
    identifier_keys: list[str] | None = Query(default=None),
    name: str | None = Query(default=None, min_length=1, max_length=100),
    templates_only: bool = False,
    tags: list[str] | None = Query(default=None),
    match_all_tags: bool = False,
    label_search: str | None = Query(default=None, min_length=1, max_length=50),
    description_search: str | None = Query(default=None, min_length=1, max_length=200),
    value_search: str | None = Query(default=None, min_length=1, max_length=200),
    connected_to_agents_count_gt: int | None = None,
    connected_to_agents_count_lt: int | None = None,
    connected_to_agents_count_eq: list[int] | None = Query(default=None),
) -> Response:
    page = Page(before, after, limit, order == "desc")
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
        rt,
        page,
        label=label,
        identity_id=identity_id,
        identifier_keys=tuple(identifier_keys or ()),
        where=where,
    )
    return rendering.json_list([serialize.block(b) for b in found], "block")


@router.get("/v1/blocks/{block_id}")
async def retrieve_block(block_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.block(await block_ops.retrieve_block(rt, block_id))


@router.patch("/v1/blocks/{block_id}")
async def modify_block(block_id: str, body: BlockUpdate, rt: Runtime) -> dict[str, Any]:
    return serialize.block(await block_ops.update_block(rt, block_id, block_changes(body)))


@router.delete("/v1/blocks/{block_id}")
async def delete_block(block_id: str, rt: Runtime) -> dict[str, str]:
    await block_ops.delete_block(rt, block_id)
    return {"message": f"block '{block_id}' deleted"}


def _history_entry(row: BlockEdit) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "block_id": row.block_id,
        "action": row.action,
        "old_value": row.old_value,
        "new_value": row.new_value,
        "actor_type": row.actor_type,
        "actor_id": row.actor_id,
        "run_id": row.run_id,
        "step_id": row.step_id,
        "undone": row.undone,
        "created_at": row.created_at.isoformat(),
    }


@router.get("/v1/blocks/{block_id}/history")
async def block_history_list(
    block_id: str,
    rt: Runtime,
    limit: Limit = 100,
    order: Literal["asc", "desc"] = "desc",
) -> list[dict[str, Any]]:
    """Every change to the block's value, by an agent's tool or through the API."""
    entries = await block_ops.list_history(
        rt, block_id, limit=limit or 100, newest_first=order == "desc"
    )
    return [_history_entry(row) for row in entries]


@router.post("/v1/blocks/{block_id}/undo")
async def undo_block_edit(block_id: str, rt: Runtime) -> dict[str, Any]:
    """Restore the value from before the newest edit still in force (409 if none)."""
    return serialize.block(await block_ops.undo(rt, block_id))


@router.post("/v1/blocks/{block_id}/redo")
async def redo_block_edit(block_id: str, rt: Runtime) -> dict[str, Any]:
    """Re-apply the edit undone most recently, unless a newer edit replaced it (409 if none)."""
    return serialize.block(await block_ops.redo(rt, block_id))


@router.get("/v1/blocks/{block_id}/agents")
async def list_block_agents(
    block_id: str,
    rt: Runtime,
    cursor: Cursor,
    include: list[agent_include.Relation] | None = Query(default=None),
    include_relationships: list[str] | None = Query(default=None),
) -> list[dict[str, Any]]:
    relations = agent_include.chosen(include, include_relationships)
    found = await block_ops.list_block_agents(rt, block_id, _page(cursor))
    return [agent_include.trimmed(serialize.agent(item), relations) for item in found]
