"""Request bodies of archives, passages and message search, each with what it becomes for
its op (``engram.ops.archives``, ``.passages``, ``.messages``): times read by the one
parser (``engram.times``), so a bad one is a 422 naming its field. Shared by the routes
and the in-process client, which validates its arguments with the same models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engram.api.schemas import Body, EmbeddingConfigBody, PassageText
from engram.ops import archives as archive_ops
from engram.ops import messages as message_ops
from engram.ops import passages as passage_ops
from engram.times import parse_time

MAX_BATCH = 1000


class ArchiveCreate(Body):
    name: str = Field(min_length=1, max_length=255)
    embedding_config: EmbeddingConfigBody | None = None
    embedding: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None

    def spec(self) -> archive_ops.ArchiveSpec:
        config = self.embedding_config
        return archive_ops.ArchiveSpec(
            name=self.name,
            embedding_config=config.model_dump() if config is not None else None,
            embedding=self.embedding,
            description=self.description,
            metadata=self.metadata,
        )


class ArchiveUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None
    metadata: dict[str, Any] | None = None

    def changes(self) -> archive_ops.ArchiveChanges:
        return archive_ops.ArchiveChanges(
            name=self.name, description=self.description, metadata=self.metadata
        )


class PassageCreate(Body):
    text: PassageText
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    created_at: str | None = None


class PassageBatchCreate(Body):
    passages: list[PassageCreate] = Field(min_length=1, max_length=MAX_BATCH)


def new_passages(items: list[PassageCreate], field: str) -> list[passage_ops.NewPassage]:
    """Every passage with its time read (``field``: where the list is, for the 422)."""
    return [
        passage_ops.NewPassage(
            text=item.text,
            tags=item.tags,
            metadata=item.metadata,
            created_at=parse_time(f"{field}{i}.created_at", item.created_at),
        )
        for i, item in enumerate(items)
    ]


class PassageSearch(Body):
    query: str | None = None
    agent_id: str | None = None
    archive_id: str | None = None
    tags: list[str] | None = None
    tag_match_mode: Literal["any", "all"] = "any"
    limit: int = Field(default=50, ge=1, le=1000)
    start_date: str | None = None
    end_date: str | None = None

    def search(self) -> passage_ops.PassageSearch:
        return passage_ops.PassageSearch(
            query=self.query,
            agent_id=self.agent_id,
            archive_id=self.archive_id,
            tags=self.tags,
            match_all_tags=self.tag_match_mode == "all",
            limit=self.limit,
            start=parse_time("start_date", self.start_date),
            end=parse_time("end_date", self.end_date),
        )


class SearchAllMessages(Body):
    query: str = Field(min_length=1)
    search_mode: Literal["vector", "fts", "hybrid"] = "hybrid"
    agent_id: str | None = None
    conversation_id: str | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    start_date: str | None = None
    end_date: str | None = None

    def search(self) -> message_ops.MessageSearch:
        """The request as the op takes it; a bad date is a 422 naming its field."""
        return message_ops.MessageSearch(
            query=self.query,
            search_mode=self.search_mode,
            agent_id=self.agent_id,
            conversation_id=self.conversation_id,
            limit=self.limit,
            start=parse_time("start_date", self.start_date),
            end=parse_time("end_date", self.end_date),
        )


# The kinds of Letta message a listing can be narrowed to (``include_return_message_types``).
MessageType = Literal[
    "system_message",
    "user_message",
    "assistant_message",
    "reasoning_message",
    "hidden_reasoning_message",
    "tool_call_message",
    "tool_return_message",
    "approval_request_message",
    "approval_response_message",
    "summary_message",
    "event_message",
]
