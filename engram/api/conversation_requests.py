"""The request bodies of ``/v1/conversations`` (Letta's ``CreateConversation``,
``UpdateConversation``, ``ConversationMessageRequest`` and the conversation
``CompactionRequest``), and the ``Conversation`` they are answered with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from engram.api.schemas import Body, CompactionRequest, SendMessages
from engram.api.stream_requests import RetrieveStream
from engram.ops.conversations import ConversationSpec, ConversationView
from engram.store.tables import as_utc


class CreateConversation(Body):
    summary: str | None = Field(default=None, max_length=10_000)
    isolated_block_labels: list[str] | None = None
    model: str | None = Field(default=None, min_length=1)
    model_settings: dict[str, Any] | None = None

    def spec(self) -> ConversationSpec:
        return ConversationSpec(
            summary=self.summary,
            isolated_block_labels=self.isolated_block_labels,
            model=self.model,
            model_settings=self.model_settings,
            given=frozenset(self.model_fields_set),
        )


class UpdateConversation(Body):
    """Letta's ``UpdateConversation``: the fields sent change. Isolated blocks are chosen
    at creation; ``last_message_at`` is the server's to keep and is ignored."""

    summary: str | None = Field(default=None, max_length=10_000)
    model: str | None = Field(default=None, min_length=1)
    model_settings: dict[str, Any] | None = None
    last_message_at: str | None = None

    def spec(self) -> ConversationSpec:
        return ConversationSpec(
            summary=self.summary,
            model=self.model,
            model_settings=self.model_settings,
            given=frozenset(self.model_fields_set),
        )


class ConversationMessage(SendMessages):
    """``SendMessages`` as a conversation takes it: streamed unless ``streaming`` is false,
    ``background`` runs the turn queued, and ``agent_id`` names the agent of "default"."""

    agent_id: str | None = None
    streaming: bool = True
    background: bool = False


class ConversationStream(RetrieveStream):
    """Reattach to the conversation's active (or last) run."""


class ConversationCompaction(CompactionRequest):
    agent_id: str | None = None


def conversation(done: ConversationView) -> dict[str, Any]:
    row = done.row
    return {
        "id": row.id,
        "agent_id": row.agent_id,
        "summary": row.summary,
        "in_context_message_ids": done.in_context_message_ids,
        "isolated_block_ids": done.isolated_block_ids,
        "model": row.model,
        "model_settings": row.model_settings,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
        "last_message_at": _time(row.last_message_at),
        "created_by_id": None,
        "last_updated_by_id": None,
    }


def _time(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None
