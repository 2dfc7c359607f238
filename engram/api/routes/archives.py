"""Archives: named passage stores that agents can share, and passage search across them."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response

from engram.api import serialize
from engram.api.deps import Limit, Runtime
from engram.api.memory_requests import (
    ArchiveCreate,
    ArchiveUpdate,
    PassageBatchCreate,
    PassageCreate,
    PassageSearch,
    new_passages,
)
from engram.api.rerank_header import add_rerank_header
from engram.ops import archives as archive_ops
from engram.ops import links
from engram.ops import passages as passage_ops

router = APIRouter(tags=["archives"])

# --------------------------------------------------------------------------- archives


@router.post("/v1/archives/")
async def create_archive(body: ArchiveCreate, rt: Runtime) -> dict[str, Any]:
    return serialize.archive(await archive_ops.create(rt, body.spec()))


@router.get("/v1/archives/")
async def list_archives(
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Literal["asc", "desc"] = "desc",
    order_by: Literal["created_at"] = "created_at",
    name: str | None = None,
    agent_id: str | None = None,
) -> list[dict[str, Any]]:
    query = archive_ops.ArchiveQuery(
        name=name,
        agent_id=agent_id,
        before=before,
        after=after,
        limit=limit,
        descending=order == "desc",
    )
    return [serialize.archive(row) for row in await archive_ops.list_archives(rt, query)]


@router.get("/v1/archives/{archive_id}")
async def retrieve_archive(archive_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.archive(await archive_ops.retrieve(rt, archive_id))


@router.patch("/v1/archives/{archive_id}")
async def modify_archive(archive_id: str, body: ArchiveUpdate, rt: Runtime) -> dict[str, Any]:
    return serialize.archive(await archive_ops.modify(rt, archive_id, body.changes()))


@router.delete("/v1/archives/{archive_id}")
async def delete_archive(archive_id: str, rt: Runtime) -> None:
    """Delete the archive with its passages; agents it was attached to lose only it."""
    await archive_ops.delete(rt, archive_id)


# --------------------------------------------------------------------------- passages


@router.post("/v1/archives/{archive_id}/passages")
async def create_archive_passage(
    archive_id: str, body: PassageCreate, rt: Runtime
) -> dict[str, Any]:
    items = new_passages([body], "passages.")
    page = await passage_ops.insert_into_archive(rt, archive_id, items, whole=True)
    return serialize.passage(page.rows[0], page.embedding_config)


@router.post("/v1/archives/{archive_id}/passages/batch")
async def create_archive_passages(
    archive_id: str, body: PassageBatchCreate, rt: Runtime
) -> list[dict[str, Any]]:
    items = new_passages(body.passages, "passages.")
    page = await passage_ops.insert_into_archive(rt, archive_id, items)
    return [serialize.passage(row, page.embedding_config) for row in page.rows]


@router.delete("/v1/archives/{archive_id}/passages/{passage_id}")
async def delete_archive_passage(archive_id: str, passage_id: str, rt: Runtime) -> None:
    await passage_ops.delete_from_archive(rt, archive_id, passage_id)


# --------------------------------------------------------------------------- agents


@router.patch("/v1/agents/{agent_id}/archives/attach/{archive_id}")
async def attach_archive(agent_id: str, archive_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await links.attach(rt, agent_id, "archive", archive_id))


@router.patch("/v1/agents/{agent_id}/archives/detach/{archive_id}")
async def detach_archive(agent_id: str, archive_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await links.detach(rt, agent_id, "archive", archive_id))


# --------------------------------------------------------------------------- search


@router.post("/v1/passages/search")
async def search_passages(
    body: PassageSearch, rt: Runtime, response: Response
) -> list[dict[str, Any]]:
    """Search an agent's passages (its archives' included), one archive's, or, with
    neither named, every passage.

    With a query, passages are ranked by meaning and keywords fused; without one, the
    newest passages matching the filters come first with score 0. A reranker, when one
    is configured, reorders the head (``X-Engram-Rerank`` and each result's metadata).
    """
    found = await passage_ops.search(rt, body.search())
    add_rerank_header(response, found.rerank)
    return [serialize.scored_passage(item) for item in found.results]
