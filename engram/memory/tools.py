"""The built-in memory tools: what the model sees (schemas) and what they do.

Each tool gets a ``ToolContext`` holding the step's open write session, so its effects
commit with the rest of the step or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.memory import archival, core, recall
from engram.memory.embeddings import Embedder
from engram.store import block_history, passages
from engram.store import tables as t
from engram.store.tables import as_utc
from engram.store.vectors import VectorIndex
from engram.times import read_iso_time


class ToolFailure(Exception):
    """A tool call that cannot be carried out; the message is returned to the model."""


@dataclass
class ToolContext:
    session: Session
    agent: t.Agent
    blocks: list[t.Block]
    embedder: Embedder
    vectors: VectorIndex
    message_vectors: VectorIndex
    run_id: str | None
    step_id: str | None
    message_id: str | None
    """The assistant message whose tool calls are running: the provenance of what they write."""
    vectors_by_text: dict[str, list[float]] = field(default_factory=dict)
    embedding_error: str | None = None
    """Why ``vectors_by_text`` is empty: the embedder failed before the step's transaction."""
    edited_blocks: set[str] = field(default_factory=set)

    def block(self, label: str) -> t.Block:
        for block in self.blocks:
            if block.label == label:
                return block
        labels = ", ".join(b.label for b in self.blocks) or "none"
        raise ToolFailure(f"no memory block labelled '{label}'; blocks: {labels}")

    def vector(self, text: str) -> list[float]:
        """The embedding of ``text``, computed before the step's transaction opened."""
        try:
            return self.vectors_by_text[text]
        except KeyError:
            if self.embedding_error is not None:
                raise ToolFailure(f"cannot embed this text: {self.embedding_error}") from None
            raise ToolFailure("this text could not be embedded; try the call again") from None


ToolFunction = Callable[..., str]


def _edit(ctx: ToolContext, label: str, change: Callable[[t.Block], str]) -> str:
    block = ctx.block(label)
    old = block.value
    try:
        block.value = change(block)
    except (core.EditRejected, InvalidInput) as exc:
        raise ToolFailure(str(exc)) from exc
    block_history.record(
        ctx.session,
        block,
        old,
        actor_type="agent",
        actor_id=ctx.agent.id,
        run_id=ctx.run_id,
        step_id=ctx.step_id,
    )
    ctx.edited_blocks.add(block.id)
    return f"Block '{label}' now has {len(block.value)} of {block.limit} chars."


def core_memory_append(ctx: ToolContext, label: str, content: str) -> str:
    return _edit(ctx, label, lambda block: core.append(block, content))


def core_memory_replace(ctx: ToolContext, label: str, old_content: str, new_content: str) -> str:
    return _edit(ctx, label, lambda block: core.replace_all(block, old_content, new_content))


def memory_replace(ctx: ToolContext, label: str, old_str: str, new_str: str) -> str:
    return _edit(ctx, label, lambda block: core.replace_unique(block, old_str, new_str))


def memory_insert(ctx: ToolContext, label: str, new_str: str, insert_line: int = -1) -> str:
    return _edit(ctx, label, lambda block: core.insert_line(block, new_str, insert_line))


def archival_memory_insert(ctx: ToolContext, content: str, tags: list[str] | None = None) -> str:
    if not content.strip():
        raise ToolFailure("content must not be empty")
    passage = passages.new_passage(
        agent_id=ctx.agent.id,
        text_=content,
        embedding=ctx.vector(content),
        embedding_handle=ctx.embedder.handle,
        tags=tags,
        run_id=ctx.run_id,
        step_id=ctx.step_id,
        message_id=ctx.message_id,
    )
    ctx.session.add(passage)
    ctx.session.flush()
    return f"Stored in archival memory as {passage.id}."


def archival_memory_search(
    ctx: ToolContext,
    query: str,
    tags: list[str] | None = None,
    tag_match_mode: str = "any",
    top_k: int = 10,
    start_datetime: str | None = None,
    end_datetime: str | None = None,
) -> str:
    hits = archival.search(
        ctx.session,
        ctx.vectors,
        ctx.agent.id,
        query,
        ctx.vector(query),
        top_k=max(1, min(top_k, 50)),
        tags=tags,
        match_all_tags=tag_match_mode == "all",
        start=_parse_time("start_datetime", start_datetime),
        end=_parse_time("end_datetime", end_datetime),
    )
    if not hits:
        return "No archival memories matched."
    return json.dumps(
        [
            {
                "id": hit.passage.id,
                "timestamp": as_utc(hit.passage.created_at).isoformat(),
                "content": hit.passage.text,
                "tags": hit.passage.tags or [],
                "source": passages.provenance(hit.passage),
            }
            for hit in hits
        ]
    )


def conversation_search(
    ctx: ToolContext,
    query: str,
    roles: list[str] | None = None,
    limit: int = 10,
    start_date: str | None = None,
    end_date: str | None = None,
) -> str:
    hits = recall.search(
        ctx.session,
        ctx.message_vectors,
        ctx.agent.id,
        query,
        ctx.vectors_by_text.get(query),
        roles=roles,
        start=_parse_time("start_date", start_date),
        end=_parse_time("end_date", end_date),
        limit=max(1, min(limit, 50)),
    )
    if not hits:
        return "No messages matched."
    return json.dumps(
        [
            {
                "id": hit.message.id,
                "timestamp": as_utc(hit.message.created_at).isoformat(),
                "role": hit.message.role,
                "content": hit.message.search_text,
            }
            for hit in hits
        ]
    )


def send_message(ctx: ToolContext, message: str) -> str:
    return "Sent message successfully."


def _parse_time(field_name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return read_iso_time(value)
    except ValueError as exc:
        raise ToolFailure(f"{field_name} must be an ISO 8601 date or time, got '{value}'") from exc


def _fn(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


_LABEL = {"type": "string", "description": "Label of the memory block to edit."}
_TAGS = {"type": "array", "items": {"type": "string"}, "description": "Optional tags."}

BASE_TOOL_SCHEMAS: dict[str, dict[str, Any]] = {
    "core_memory_append": _fn(
        "core_memory_append",
        "Append text to the end of a core memory block, on a new line.",
        {"label": _LABEL, "content": {"type": "string", "description": "Text to add."}},
        ["label", "content"],
    ),
    "core_memory_replace": _fn(
        "core_memory_replace",
        "Replace every occurrence of some exact text in a core memory block. "
        "Use an empty new_content to delete the text.",
        {
            "label": _LABEL,
            "old_content": {"type": "string", "description": "Exact text to replace."},
            "new_content": {"type": "string", "description": "Text to put in its place."},
        },
        ["label", "old_content", "new_content"],
    ),
    "memory_replace": _fn(
        "memory_replace",
        "Replace text that appears exactly once in a memory block with new text.",
        {
            "label": _LABEL,
            "old_str": {"type": "string", "description": "Exact text, unique in the block."},
            "new_str": {"type": "string", "description": "Replacement text."},
        },
        ["label", "old_str", "new_str"],
    ),
    "memory_insert": _fn(
        "memory_insert",
        "Insert text into a memory block at a line number (0 is the top, -1 the end).",
        {
            "label": _LABEL,
            "new_str": {"type": "string", "description": "Text to insert."},
            "insert_line": {
                "type": "integer",
                "description": "Line to insert before; -1 appends.",
                "default": -1,
            },
        },
        ["label", "new_str"],
    ),
    "archival_memory_insert": _fn(
        "archival_memory_insert",
        "Save a fact or note to long-term archival memory, searchable later by meaning.",
        {"content": {"type": "string", "description": "What to remember."}, "tags": _TAGS},
        ["content"],
    ),
    "archival_memory_search": _fn(
        "archival_memory_search",
        "Search archival memory by meaning and keywords.",
        {
            "query": {"type": "string", "description": "What to look for."},
            "tags": _TAGS,
            "tag_match_mode": {"type": "string", "enum": ["any", "all"], "default": "any"},
            "top_k": {"type": "integer", "description": "How many results.", "default": 10},
            "start_datetime": {"type": "string", "description": "ISO 8601 lower bound."},
            "end_datetime": {"type": "string", "description": "ISO 8601 upper bound."},
        },
        ["query"],
    ),
    "conversation_search": _fn(
        "conversation_search",
        "Search the whole past conversation, including messages no longer in view.",
        {
            "query": {"type": "string", "description": "Words to look for."},
            "roles": {
                "type": "array",
                "items": {"type": "string", "enum": ["user", "assistant", "tool"]},
            },
            "limit": {"type": "integer", "default": 10},
            "start_date": {"type": "string", "description": "ISO 8601 lower bound."},
            "end_date": {"type": "string", "description": "ISO 8601 upper bound."},
        },
        ["query"],
    ),
    "send_message": _fn(
        "send_message",
        "Send a message to the user. This is how you answer.",
        {"message": {"type": "string", "description": "The message to send."}},
        ["message"],
    ),
}

BASE_TOOL_FUNCTIONS: dict[str, ToolFunction] = {
    "core_memory_append": core_memory_append,
    "core_memory_replace": core_memory_replace,
    "memory_replace": memory_replace,
    "memory_insert": memory_insert,
    "archival_memory_insert": archival_memory_insert,
    "archival_memory_search": archival_memory_search,
    "conversation_search": conversation_search,
    "send_message": send_message,
}

MEMORY_TOOL_NAMES = [
    "memory_insert",
    "memory_replace",
    "core_memory_append",
    "core_memory_replace",
    "archival_memory_insert",
    "archival_memory_search",
    "conversation_search",
]
