"""Agent and block request bodies as the plain dataclasses the operations take.

The REST routes and the in-process client both validate input with the same request models
(``engram.api.schemas``) and convert it here, so the two cannot drift apart."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from engram.api.schemas import BlockUpdate, CreateAgent, CreateBlock, MessageCreate, UpdateAgent
from engram.errors import InvalidInput
from engram.ops.agents import AgentChanges, AgentSpec, BlockSpec
from engram.ops.blocks import BlockChanges
from engram.runtime.agent_calls import MULTI_AGENT_TOOLS
from engram.runtime.step_rows import InputMessage


def agent_spec(body: CreateAgent) -> AgentSpec:
    return AgentSpec(
        name=body.name,
        system=body.system,
        agent_type=body.agent_type,
        description=body.description,
        metadata=body.metadata,
        tags=body.tags or [],
        memory_blocks=[block_spec(b) for b in body.memory_blocks or []],
        block_ids=body.block_ids or [],
        tools=[*(body.tools or []), *(MULTI_AGENT_TOOLS if body.include_multi_agent_tools else ())],
        tool_ids=body.tool_ids or [],
        include_base_tools=body.include_base_tools,
        model=body.model,
        llm_config=body.llm_config.model_dump() if body.llm_config else None,
        tool_call_format=body.tool_call_format,
        enable_reasoner=body.enable_reasoner,
        max_reasoning_tokens=body.max_reasoning_tokens,
        embedding=body.embedding,
        embedding_config=body.embedding_config.model_dump() if body.embedding_config else None,
        context_window_limit=body.context_window_limit,
        tool_rules=body.tool_rules,
        tool_env={**(body.tool_exec_environment_variables or {}), **(body.secrets or {})},
        compaction_settings=_dump(body.compaction_settings),
        recall_assist=_dump(body.recall_assist),
        identity_ids=body.identity_ids or [],
        folder_ids=list(dict.fromkeys(body.folder_ids or [])),
        model_settings=body.model_settings,
        setting_shortcuts=body.model_dump(
            include={"max_tokens", "parallel_tool_calls", "response_format"}, exclude_unset=True
        ),
        max_files_open=body.max_files_open,
        per_file_view_window_char_limit=body.per_file_view_window_char_limit,
        enable_sleeptime=bool(body.enable_sleeptime),
        initial_messages=_initial(body.initial_message_sequence or []),
        timezone=body.timezone,
        message_buffer_autoclear=body.message_buffer_autoclear,
        include_default_source=body.include_default_source,
        embedding_chunk_size=body.embedding_chunk_size,
        reasoning=body.reasoning,
    )


def _initial(sequence: list[MessageCreate]) -> list[InputMessage]:
    """Letta's ``initial_message_sequence`` as stored messages; images in user ones only."""
    items = []
    for index, message in enumerate(sequence):
        parts = message.parts()
        if parts is not None and message.role != "user":
            field = f"initial_message_sequence.{index}.content"
            raise InvalidInput(field, "images go in user messages only")
        items.append(
            InputMessage(role=message.role, text=message.text(), name=message.name, parts=parts)
        )
    return items


def _dump(settings: BaseModel | None) -> dict[str, Any] | None:
    """Only what the client set, so that unset knobs keep following the server defaults."""
    return settings.model_dump(exclude_unset=True) if settings is not None else None


def agent_changes(body: UpdateAgent) -> AgentChanges:
    """Only the fields the client sent (nested settings too), so the rest stay as they are."""
    return AgentChanges.of(body.model_dump(exclude_unset=True))


def block_spec(body: CreateBlock) -> BlockSpec:
    return BlockSpec(**body.model_dump())


def block_changes(body: BlockUpdate) -> BlockChanges:
    return BlockChanges(**body.model_dump(exclude_unset=True))
