"""``client.archives`` (archives and their passages), ``client.passages`` (searching
passages) and an agent's archival memory (``client.agents.passages``,
``client.agents.archives``)."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from engram.api import serialize
from engram.api.memory_requests import (
    ArchiveCreate,
    ArchiveUpdate,
    PassageBatchCreate,
    PassageCreate,
    PassageSearch,
    new_passages,
)
from engram.api.schemas import CreatePassage
from engram.client.agent_state import AgentState
from engram.client.arguments import iso, validated
from engram.client.models import WireModel
from engram.client.queries import ArchivalListing, ArchivalSearch, ArchiveListing
from engram.client.resource import Resource
from engram.ops import archives as archive_ops
from engram.ops import links
from engram.ops import passages as passage_ops
from engram.times import parse_time

if TYPE_CHECKING:
    from engram.runtime.engine import Services


class Archive(WireModel):
    id: str
    name: str
    description: str | None = None
    embedding_config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    created_at: str | None = None


class Passage(WireModel):
    id: str
    text: str
    tags: list[str] | None = None
    archive_id: str | None = None
    agent_id: str | None = None
    created_at: str | None = None


class PassageSearchResult(WireModel):
    """One result of ``client.passages.search``."""

    passage: Passage
    score: float


class ArchivalResult(WireModel):
    """One result of ``client.agents.passages.search``."""

    id: str
    content: str
    tags: list[str] = []
    timestamp: str | None = None


class ArchivalSearchResponse(WireModel):
    results: list[ArchivalResult]
    count: int


# --------------------------------------------------------------------------- archives


class AsyncArchivePassages(Resource):
    """``client.archives.passages``: the passages of one archive."""

    async def create(
        self,
        archive_id: str,
        *,
        text: str,
        created_at: str | datetime | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> Passage:
        body = validated(
            PassageCreate, text=text, created_at=iso(created_at), metadata=metadata, tags=tags
        )
        items = new_passages([body], "passages.")
        page = await passage_ops.insert_into_archive(self._services, archive_id, items, whole=True)
        return Passage.model_validate(serialize.passage(page.rows[0], page.embedding_config))

    async def create_many(
        self, archive_id: str, *, passages: list[dict[str, Any]]
    ) -> list[Passage]:
        """Every passage written, or none (a bad one is named by its position)."""
        body = validated(PassageBatchCreate, passages=passages)
        items = new_passages(body.passages, "passages.")
        page = await passage_ops.insert_into_archive(self._services, archive_id, items)
        return Passage.each([serialize.passage(row, page.embedding_config) for row in page.rows])

    async def delete(self, passage_id: str, *, archive_id: str) -> None:
        await passage_ops.delete_from_archive(self._services, archive_id, passage_id)


class AsyncArchives(Resource):
    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.passages = AsyncArchivePassages(services)

    async def create(
        self,
        *,
        name: str,
        description: str | None = None,
        embedding: str | None = None,
        embedding_config: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Archive:
        body = validated(
            ArchiveCreate,
            name=name,
            description=description,
            embedding=embedding,
            embedding_config=embedding_config,
            metadata=metadata,
        )
        return Archive.model_validate(
            serialize.archive(await archive_ops.create(self._services, body.spec()))
        )

    async def retrieve(self, archive_id: str) -> Archive:
        return Archive.model_validate(
            serialize.archive(await archive_ops.retrieve(self._services, archive_id))
        )

    async def list(
        self,
        *,
        after: str | None = None,
        agent_id: str | None = None,
        before: str | None = None,
        limit: int | None = None,
        name: str | None = None,
        order: Literal["asc", "desc"] | None = None,
        order_by: Literal["created_at"] | None = None,
    ) -> list[Archive]:
        listing = validated(
            ArchiveListing,
            after=after,
            agent_id=agent_id,
            before=before,
            limit=limit,
            name=name,
            order=order,
            order_by=order_by,
        )
        rows = await archive_ops.list_archives(self._services, listing.query())
        return Archive.each([serialize.archive(row) for row in rows])

    async def update(
        self,
        archive_id: str,
        *,
        description: str | None = None,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Archive:
        body = validated(ArchiveUpdate, description=description, name=name, metadata=metadata)
        row = await archive_ops.modify(self._services, archive_id, body.changes())
        return Archive.model_validate(serialize.archive(row))

    async def delete(self, archive_id: str) -> None:
        """Delete the archive with its passages; agents it was attached to lose only it."""
        await archive_ops.delete(self._services, archive_id)


class AsyncPassages(Resource):
    """``client.passages``: passages across an agent's memory or an archive."""

    async def search(
        self,
        *,
        agent_id: str | None = None,
        archive_id: str | None = None,
        end_date: str | datetime | None = None,
        limit: int | None = None,
        query: str | None = None,
        start_date: str | datetime | None = None,
        tag_match_mode: Literal["any", "all"] | None = None,
        tags: list[str] | None = None,
    ) -> list[PassageSearchResult]:
        """One agent's passages, one archive's, or (neither named) every passage. With a
        query, ranked by meaning and keywords fused; without one, the newest matching
        passages first with score 0."""
        body = validated(
            PassageSearch,
            agent_id=agent_id,
            archive_id=archive_id,
            end_date=iso(end_date),
            limit=limit,
            query=query,
            start_date=iso(start_date),
            tag_match_mode=tag_match_mode,
            tags=tags,
        )
        found = await passage_ops.search(self._services, body.search())
        return PassageSearchResult.each([serialize.scored_passage(i) for i in found.results])


# --------------------------------------------------------------------------- an agent's


class AsyncAgentPassages(Resource):
    """``client.agents.passages``: the agent's archival memory."""

    async def create(
        self,
        agent_id: str,
        *,
        text: str,
        created_at: str | datetime | None = None,
        tags: list[str] | None = None,
    ) -> list[Passage]:
        body = validated(CreatePassage, text=text, created_at=iso(created_at), tags=tags)
        item = passage_ops.NewPassage(
            text=body.text, tags=body.tags, created_at=parse_time("created_at", body.created_at)
        )
        page = await passage_ops.insert(self._services, agent_id, item)
        return Passage.each([serialize.passage(row, page.embedding_config) for row in page.rows])

    async def list(
        self,
        agent_id: str,
        *,
        after: str | None = None,
        ascending: bool | None = None,
        before: str | None = None,
        limit: int | None = None,
        search: str | None = None,
    ) -> list[Passage]:
        listing = validated(
            ArchivalListing,
            after=after,
            ascending=ascending,
            before=before,
            limit=limit,
            search=search,
        )
        page = await passage_ops.list_for_agent(
            self._services,
            agent_id,
            before=listing.before,
            after=listing.after,
            limit=listing.limit,
            ascending=listing.ascending,
            search=listing.search,
        )
        return Passage.each([serialize.passage(row, page.embedding_config) for row in page.rows])

    async def search(
        self,
        agent_id: str,
        *,
        query: str,
        end_datetime: str | datetime | None = None,
        start_datetime: str | datetime | None = None,
        tag_match_mode: Literal["any", "all"] | None = None,
        tags: builtins.list[str] | None = None,
        top_k: int | None = None,
        search_mode: Literal["hybrid", "vector", "fts"] | None = None,
    ) -> ArchivalSearchResponse:
        """Engram adds ``search_mode``: ``fts`` or ``vector`` keeps one ranking alone."""
        request = validated(
            ArchivalSearch,
            query=query,
            end_datetime=iso(end_datetime),
            start_datetime=iso(start_datetime),
            tag_match_mode=tag_match_mode,
            tags=tags,
            top_k=top_k,
            search_mode=search_mode,
        )
        hits = await passage_ops.search_agent(self._services, agent_id, request.search())
        results = [serialize.archival_result(hit.passage) for hit in hits.items]
        return ArchivalSearchResponse.model_validate({"results": results, "count": len(results)})

    async def delete(self, memory_id: str, *, agent_id: str) -> dict[str, str]:
        await passage_ops.delete_for_agent(self._services, agent_id, memory_id)
        return {"message": f"passage '{memory_id}' deleted"}


class AsyncAgentArchives(Resource):
    """``client.agents.archives``: which archives the agent searches with its own memory."""

    async def attach(self, archive_id: str, *, agent_id: str) -> AgentState:
        bundle = await links.attach(self._services, agent_id, "archive", archive_id)
        return AgentState.model_validate(serialize.agent(bundle))

    async def detach(self, archive_id: str, *, agent_id: str) -> AgentState:
        bundle = await links.detach(self._services, agent_id, "archive", archive_id)
        return AgentState.model_validate(serialize.agent(bundle))
