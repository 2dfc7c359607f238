"""The query parameters of the listing and search routes, as models: the client checks its
arguments with the bounds those routes declare (``limit`` 1..1000, an ``order`` of asc or
desc...), so a call refused over HTTP is refused in-process too, naming the same field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engram.api.schemas import MessageType
from engram.ops import archives as archive_ops
from engram.ops import messages as message_ops
from engram.ops import passages as passage_ops
from engram.times import parse_time


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArchiveListing(_Query):
    """``GET /v1/archives/``."""

    after: str | None = None
    agent_id: str | None = None
    before: str | None = None
    limit: int | None = Field(default=50, ge=1, le=1000)
    name: str | None = None
    order: Literal["asc", "desc"] = "desc"
    order_by: Literal["created_at"] = "created_at"

    def query(self) -> archive_ops.ArchiveQuery:
        return archive_ops.ArchiveQuery(
            name=self.name,
            agent_id=self.agent_id,
            before=self.before,
            after=self.after,
            limit=self.limit,
            descending=self.order == "desc",
        )


class ArchivalListing(_Query):
    """``GET /v1/agents/{agent_id}/archival-memory``."""

    after: str | None = None
    ascending: bool = True
    before: str | None = None
    limit: int | None = Field(default=100, ge=1, le=1000)
    search: str | None = None


class ArchivalSearch(_Query):
    """``GET /v1/agents/{agent_id}/archival-memory/search``."""

    query: str = Field(min_length=1)
    tags: list[str] | None = None
    tag_match_mode: Literal["any", "all"] = "any"
    top_k: int | None = Field(default=None, ge=1, le=1000)
    start_datetime: str | None = None
    end_datetime: str | None = None
    search_mode: passage_ops.SearchMode = "hybrid"

    def search(self) -> passage_ops.AgentSearch:
        return passage_ops.AgentSearch(
            query=self.query,
            tags=self.tags,
            match_all_tags=self.tag_match_mode == "all",
            top_k=self.top_k or 10,
            start=parse_time("start_datetime", self.start_datetime),
            end=parse_time("end_datetime", self.end_datetime),
            mode=self.search_mode,
        )


class MessageListing(_Query):
    """``GET /v1/agents/{agent_id}/messages``."""

    after: str | None = None
    before: str | None = None
    limit: int | None = Field(default=100, ge=1, le=1000)
    order: Literal["asc", "desc"] = "desc"
    use_assistant_message: bool = True
    include_return_message_types: list[MessageType] | None = None
    conversation_id: str | None = None

    def query(self) -> message_ops.MessageQuery:
        return message_ops.MessageQuery(
            before=self.before,
            after=self.after,
            limit=self.limit,
            order=self.order,
            conversation_id=self.conversation_id,
        )
