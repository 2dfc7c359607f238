"""The built-in memory tools: what the model sees (schemas) and what they do.

Each tool gets a ``ToolContext`` holding the step's open write session, so its effects
commit with the rest of the step or not at all.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from engram.memory import archival, core, recall
from engram.memory.file_tools import FILE_TOOL_FUNCTIONS, FILE_TOOL_SCHEMAS
from engram.memory.memory_commands import COMMAND_TOOL_FUNCTIONS, COMMAND_TOOL_SCHEMAS
from engram.memory.tool_context import ToolContext as ToolContext
from engram.memory.tool_context import ToolFailure as ToolFailure
from engram.memory.tool_context import ToolFunction as ToolFunction
from engram.memory.tool_context import edit_block
from engram.store import passages
from engram.store.messages import ThreadFilter
from engram.store.tables import as_utc
from engram.times import agent_zone, on_clock, read_iso_time
from engram.tools.schema import builtin_schema


def core_memory_append(ctx: ToolContext, label: str, content: str) -> str:
    return edit_block(ctx, label, lambda block: core.append(block, content))


def core_memory_replace(ctx: ToolContext, label: str, old_content: str, new_content: str) -> str:
    return edit_block(ctx, label, lambda block: core.replace_all(block, old_content, new_content))


def memory_replace(
    ctx: ToolContext,
    label: str,
    old_string: str | None = None,
    new_string: str | None = None,
    old_str: str | None = None,
    new_str: str | None = None,
) -> str:
    """Letta's argument names (``old_string``/``new_string``); the earlier ``old_str`` and
    ``new_str`` still work, so agents made with the old schema keep editing."""
    old = _named("memory_replace", "old_string", old_string, old_str)
    new = _named("memory_replace", "new_string", new_string, new_str)
    return edit_block(
        ctx, label, lambda block: core.replace_unique(block, old, new, argument="old_string")
    )


def memory_insert(
    ctx: ToolContext,
    label: str,
    new_string: str | None = None,
    insert_line: int = -1,
    new_str: str | None = None,
) -> str:
    """Insert after line ``insert_line`` (0 puts the text first, -1 appends), as Letta's."""
    text = _named("memory_insert", "new_string", new_string, new_str)
    return edit_block(ctx, label, lambda block: core.insert_line(block, text, insert_line))


def _named(tool: str, name: str, value: str | None, old_spelling: str | None) -> str:
    """The argument ``name``, given under its Letta name or its earlier Engram spelling."""
    chosen = value if value is not None else old_spelling
    if chosen is None:
        raise ToolFailure(f"{tool}: missing required argument(s): {name}")
    return chosen


def archival_memory_insert(ctx: ToolContext, content: str, tags: list[str] | None = None) -> str:
    """A content longer than the embedding model reads is stored as several passages
    (split before the step began), each embedded whole; the answer says how many."""
    if not content.strip():
        raise ToolFailure("content must not be empty")
    texts = ctx.passage_pieces.get(content, [content])
    rows = [
        passages.new_passage(
            agent_id=ctx.agent.id,
            text_=text,
            embedding=ctx.vector(text),
            embedding_handle=ctx.embedder.handle,
            tags=tags,
            run_id=ctx.run_id,
            step_id=ctx.step_id,
            message_id=ctx.message_id,
        )
        for text in texts
    ]
    ctx.session.add_all(rows)
    ctx.session.flush()
    if len(rows) == 1:
        return f"Stored in archival memory as {rows[0].id}."
    ids = ", ".join(row.id for row in rows)
    return (
        f"The content was longer than the embedding model reads at once, so it was stored "
        f"as {len(rows)} passages, in order: {ids}."
    )


def archival_memory_search(
    ctx: ToolContext,
    query: str,
    tags: list[str] | None = None,
    tag_match_mode: str = "any",
    top_k: int = 10,
    start_datetime: str | None = None,
    end_datetime: str | None = None,
) -> str:
    wanted = max(1, min(top_k, 50))
    hits = archival.search(
        ctx.session,
        ctx.vectors,
        ctx.agent.id,
        query,
        ctx.vector(query),
        top_k=ctx.rerank.pool(wanted),
        tags=tags,
        match_all_tags=tag_match_mode == "all",
        start=_parse_time(ctx, "start_datetime", start_datetime),
        end=_parse_time(ctx, "end_datetime", end_datetime),
    )
    hits = ctx.rerank.order(query, hits, lambda h: h.passage.id, lambda h: h.passage.text, wanted)
    if not hits:
        return "No archival memories matched."
    return json.dumps(
        [
            {
                "id": hit.passage.id,
                "timestamp": on_clock(as_utc(hit.passage.created_at), ctx.agent.timezone),
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
    this_conversation_only: bool = False,
) -> str:
    wanted = max(1, min(limit, 50))
    thread = ThreadFilter(ctx.conversation_id) if this_conversation_only is True else None
    hits = recall.search(
        ctx.session,
        ctx.message_vectors,
        ctx.agent.id,
        query,
        ctx.vectors_by_text.get(query),
        roles=roles,
        start=_parse_time(ctx, "start_date", start_date),
        end=_parse_time(ctx, "end_date", end_date),
        limit=ctx.rerank.pool(wanted),
        thread=thread,
    )
    hits = ctx.rerank.order(
        query, hits, lambda h: h.message.id, lambda h: h.message.search_text or "", wanted
    )
    if not hits:
        return "No messages matched."
    return json.dumps(
        [
            {
                "id": hit.message.id,
                "timestamp": on_clock(as_utc(hit.message.created_at), ctx.agent.timezone),
                "role": hit.message.role,
                "content": hit.message.search_text,
            }
            for hit in hits
        ]
    )


def send_message(ctx: ToolContext, message: str) -> str:
    return "Sent message successfully."


def _parse_time(ctx: ToolContext, field_name: str, value: str | None) -> datetime | None:
    """A time the model wrote; without an offset, it is read on the agent's clock."""
    if not value:
        return None
    try:
        return read_iso_time(value, agent_zone(ctx.agent.timezone))
    except ValueError as exc:
        raise ToolFailure(f"{field_name} must be an ISO 8601 date or time, got '{value}'") from exc


_LABEL = {"type": "string", "description": "Label of the memory block to edit."}
_TAGS = {"type": "array", "items": {"type": "string"}, "description": "Optional tags."}

BASE_TOOL_SCHEMAS: dict[str, dict[str, Any]] = {
    "core_memory_append": builtin_schema(
        "core_memory_append",
        "Append text to the end of a core memory block, on a new line.",
        {"label": _LABEL, "content": {"type": "string", "description": "Text to add."}},
        ["label", "content"],
    ),
    "core_memory_replace": builtin_schema(
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
    "memory_replace": builtin_schema(
        "memory_replace",
        "Replace text that appears exactly once in a memory block with new text. "
        "Use an empty new_string to delete the text.",
        {
            "label": _LABEL,
            "old_string": {"type": "string", "description": "Exact text, unique in the block."},
            "new_string": {"type": "string", "description": "Replacement text."},
        },
        ["label", "old_string", "new_string"],
    ),
    "memory_insert": builtin_schema(
        "memory_insert",
        "Insert text into a memory block after a given line (0 puts it first, -1 at the end).",
        {
            "label": _LABEL,
            "new_string": {"type": "string", "description": "Text to insert."},
            "insert_line": {
                "type": "integer",
                "description": "Line number after which to insert; 0 for the top, -1 appends.",
                "default": -1,
            },
        },
        ["label", "new_string"],
    ),
    "archival_memory_insert": builtin_schema(
        "archival_memory_insert",
        "Save a fact or note to long-term archival memory, searchable later by meaning.",
        {"content": {"type": "string", "description": "What to remember."}, "tags": _TAGS},
        ["content"],
    ),
    "archival_memory_search": builtin_schema(
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
    "conversation_search": builtin_schema(
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
            "this_conversation_only": {
                "type": "boolean",
                "default": False,
                "description": "Search only this conversation; by default every "
                "conversation you have had is searched.",
            },
        },
        ["query"],
    ),
    "send_message": builtin_schema(
        "send_message",
        "Send a message to the user. This is how you answer.",
        {"message": {"type": "string", "description": "The message to send."}},
        ["message"],
    ),
    **COMMAND_TOOL_SCHEMAS,
    **FILE_TOOL_SCHEMAS,
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
    **COMMAND_TOOL_FUNCTIONS,
    **FILE_TOOL_FUNCTIONS,
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
