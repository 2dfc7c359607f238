"""What callers hand the agent operations: a new agent (with its new blocks), the changes
of an update, and the slice of a list to return. Plain dataclasses, so the REST routes and
the in-process client build the same values from their own arguments."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from engram.errors import InvalidInput
from engram.ops.paging import Page
from engram.runtime.step_rows import InputMessage


@dataclass
class BlockSpec:
    label: str
    value: str
    limit: int | None = None
    description: str | None = None
    read_only: bool = False
    hidden: bool | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None


@dataclass
class AgentSpec:
    name: str | None = None
    system: str | None = None
    agent_type: str = "letta_v1_agent"
    description: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    memory_blocks: list[BlockSpec] = field(default_factory=list)
    block_ids: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    tool_ids: list[str] = field(default_factory=list)
    include_base_tools: bool = True
    model: str | None = None
    llm_config: dict[str, Any] | None = None
    # "native" or "json_text"; given, it overrides llm_config's (see engram/llm/text_tools.py).
    tool_call_format: str | None = None
    enable_reasoner: bool | None = None
    max_reasoning_tokens: int | None = None
    embedding: str | None = None
    embedding_config: dict[str, Any] | None = None
    context_window_limit: int | None = None
    tool_rules: list[dict[str, Any]] | None = None
    compaction_settings: dict[str, Any] | None = None
    recall_assist: dict[str, Any] | None = None
    tool_env: dict[str, str] | None = None
    identity_ids: list[str] = field(default_factory=list)
    folder_ids: list[str] = field(default_factory=list)
    # Letta's model_settings and the agent-level shortcuts that were sent (max_tokens,
    # parallel_tool_calls, response_format), written into llm_config.
    model_settings: dict[str, Any] | None = None
    setting_shortcuts: dict[str, Any] = field(default_factory=dict)
    max_files_open: int | None = None
    per_file_view_window_char_limit: int | None = None
    # Letta's: pair the agent with a sleep-time agent that edits its memory in the background.
    enable_sleeptime: bool = False
    # Letta's initial_message_sequence: the agent's first messages, in its window.
    initial_messages: list[InputMessage] = field(default_factory=list)
    # The agent's clock (an IANA zone name, checked by the caller); None is UTC.
    timezone: str | None = None
    message_buffer_autoclear: bool = False
    # Letta's deprecated default source: a new folder for the agent, attached; its chunk
    # size (and the agent's embedding_config's) is embedding_chunk_size tokens.
    include_default_source: bool = False
    embedding_chunk_size: int | None = None
    # Letta's reasoning switch (engram/llm/model_settings.with_reasoning).
    reasoning: bool | None = None


@dataclass(frozen=True)
class AgentChanges:
    """What an update changes: the fields the client sent, and only those.

    A field left out keeps the agent's value; most fields sent as null do too, except
    ``compaction_settings`` and ``recall_assist``, where null means "back to the server's
    defaults". So "sent" and "None" differ, and ``fields_set`` records which were sent."""

    name: str | None = None
    system: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    block_ids: list[str] | None = None
    tool_ids: list[str] | None = None
    model: str | None = None
    llm_config: dict[str, Any] | None = None
    tool_call_format: str | None = None
    embedding: str | None = None
    embedding_config: dict[str, Any] | None = None
    context_window_limit: int | None = None
    tool_rules: list[dict[str, Any]] | None = None
    compaction_settings: dict[str, Any] | None = None
    recall_assist: dict[str, Any] | None = None
    tool_exec_environment_variables: dict[str, str] | None = None
    secrets: dict[str, str] | None = None
    identity_ids: list[str] | None = None
    folder_ids: list[str] | None = None
    model_settings: dict[str, Any] | None = None
    max_tokens: int | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    max_files_open: int | None = None
    per_file_view_window_char_limit: int | None = None
    enable_sleeptime: bool | None = None
    timezone: str | None = None
    message_buffer_autoclear: bool | None = None
    message_ids: list[str] | None = None
    last_run_completion: datetime | None = None
    last_run_duration_ms: int | None = None
    last_stop_reason: str | None = None
    reasoning: bool | None = None
    hidden: bool | None = None  # refused when true by the request's checks
    fields_set: frozenset[str] = frozenset()

    @classmethod
    def of(cls, sent: dict[str, Any]) -> AgentChanges:
        """The changes holding exactly the fields in ``sent`` (a request body dumped with
        ``exclude_unset``); a name that is no updatable field is refused, naming it."""
        known = {item.name for item in fields(cls)} - {"fields_set"}
        for name in sent:
            if name not in known:
                raise InvalidInput(name, f"not a field that can change; one of {sorted(known)}")
        return cls(**sent, fields_set=frozenset(sent))

    def sent(self, name: str) -> bool:
        return name in self.fields_set


# Which slice of a list to return: one shape for every listing.
Cursor = Page
