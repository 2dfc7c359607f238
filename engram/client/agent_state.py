"""The agent and block shapes the client returns. They live apart from the resources
because several resources answer with an agent (attaching a block, a tool or an archive
returns the agent as it now is), and a shape imports nothing but ``WireModel``."""

from __future__ import annotations

from typing import Any

from engram.client.models import WireModel


class Block(WireModel):
    """A core memory block, as ``GET /v1/blocks/{block_id}`` answers it."""

    id: str
    label: str
    value: str
    limit: int
    description: str | None = None
    read_only: bool = False
    hidden: bool | None = None
    metadata: dict[str, Any] = {}
    tags: list[str] = []


class Tool(WireModel):
    """Letta's Tool."""

    id: str
    name: str
    tool_type: str
    description: str | None = None
    source_type: str | None = None
    source_code: str | None = None
    json_schema: dict[str, Any] | None = None
    tags: list[str] = []
    return_char_limit: int | None = None
    metadata_: dict[str, Any] | None = None


class Group(WireModel):
    """Letta's Group: here always a sleep-time pairing (docs/sleeptime.md)."""

    id: str
    manager_type: str
    agent_ids: list[str] = []
    description: str = ""
    manager_agent_id: str | None = None
    sleeptime_agent_frequency: int | None = None
    turns_counter: int | None = None
    last_processed_message_id: str | None = None
    archival_upkeep: dict[str, Any] | None = None


class AgentState(WireModel):
    """An agent, as ``GET /v1/agents/{agent_id}`` answers it (Letta's ``AgentState``)."""

    id: str
    name: str
    system: str
    agent_type: str
    description: str | None = None
    metadata: dict[str, Any] = {}
    model: str | None = None
    embedding: str | None = None
    llm_config: dict[str, Any]
    embedding_config: dict[str, Any] | None = None
    context_window_limit: int | None = None
    tool_rules: list[dict[str, Any]] = []
    message_ids: list[str] = []
    blocks: list[Block] = []
    tools: list[Tool] = []
    tags: list[str] = []
    pending_approval: dict[str, Any] | None = None
    enable_sleeptime: bool | None = None
    multi_agent_group: Group | None = None
    managed_group: Group | None = None
    created_at: str | None = None
    updated_at: str | None = None
