"""Rows as the JSON shapes of Letta's wire contract (AgentState, Block, Tool, Passage...)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engram.api import serialize_folders
from engram.ids import new_id
from engram.llm import model_settings
from engram.mcp import STDIO, registry
from engram.memory.dedup import upkeep_settings
from engram.ops import files as file_settings
from engram.ops.agents import AgentBundle
from engram.ops.identities import Linked
from engram.ops.messages import Compaction
from engram.ops.passages import ScoredPassage
from engram.ops.runs import STOP_REASONS
from engram.ops.tool_search import ToolMatch
from engram.ops.tools import Execution, SourceRunOutcome
from engram.runtime.run_callbacks import callback_view
from engram.runtime.views import letta_messages
from engram.store import passages
from engram.store import tables as t
from engram.store.tables import as_utc

if TYPE_CHECKING:
    from engram.memory.directories import Directories
    from engram.ops.agent_files import ImportResult


def _time(value: Any) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def block(row: t.Block) -> dict[str, Any]:
    return {
        "id": row.id,
        "label": row.label,
        "value": row.value,
        "limit": row.limit,
        "description": row.description,
        "read_only": row.read_only,
        "hidden": row.hidden,
        "metadata": row.metadata_ or {},
        "tags": row.tags or [],
        "project_id": None,
        "template_name": None,
        "is_template": False,
        "template_id": None,
        "base_template_id": None,
        "deployment_id": None,
        "entity_id": None,
        "preserve_on_migration": False,
        "created_by_id": None,
        "last_updated_by_id": None,
    }


def _file_blocks(shown: Directories | None) -> list[dict[str, Any]]:
    """The agent's files as Letta's ``FileBlock``s: the value is what its prompt shows."""
    if shown is None:
        return []
    return [
        {
            **{key: None for key in _BLOCK_NULLS},
            "id": file.view.id,
            "label": file.name,
            "value": file.window,
            "limit": shown.char_limit,
            "read_only": True,
            "description": None,
            "metadata": {},
            "tags": [],
            "is_template": False,
            "preserve_on_migration": False,
            "file_id": file.view.file_id,
            "source_id": file.view.folder_id,
            "is_open": file.is_open,
            "last_accessed_at": as_utc(file.view.last_accessed_at).isoformat(),
        }
        for file in shown.files
    ]


_BLOCK_NULLS = (
    "project_id", "template_name", "template_id", "base_template_id", "deployment_id",
    "entity_id", "hidden", "created_by_id", "last_updated_by_id",
)  # fmt: skip


def tool(row: t.Tool) -> dict[str, Any]:
    return {
        "id": row.id,
        "tool_type": row.tool_type,
        "description": row.description,
        "source_type": row.source_type,
        "name": row.name,
        "tags": row.tags or [],
        "source_code": row.source_code,
        "json_schema": row.json_schema,
        "args_json_schema": row.args_json_schema,
        "return_char_limit": row.return_char_limit,
        "pip_requirements": row.pip_requirements,
        "npm_requirements": row.npm_requirements,
        "default_requires_approval": row.default_requires_approval,
        "enable_parallel_execution": bool(row.enable_parallel_execution),
        "created_by_id": None,
        "last_updated_by_id": None,
        "metadata_": row.metadata_ or {},
        "project_id": None,
    }


def tool_return_message(outcome: SourceRunOutcome) -> dict[str, Any]:
    """A direct run of unsaved source, as Letta's ToolReturnMessage (nothing is stored, so
    its ids are fresh each time)."""
    run = outcome.run
    return {
        "id": new_id("message"),
        "date": datetime.now(UTC).isoformat(),
        "name": outcome.name,
        "message_type": "tool_return_message",
        "otid": None,
        "sender_id": None,
        "step_id": None,
        "is_err": not run.ok,
        "seq_id": None,
        "run_id": None,
        "tool_return": run.text(),
        "status": "success" if run.ok else "error",
        "tool_call_id": f"call_{uuid.uuid4().hex[:24]}",
        "stdout": [run.stdout] if run.stdout else [],
        "stderr": [run.stderr] if run.stderr else [],
        "tool_returns": None,
    }


def tool_execution(result: Execution) -> dict[str, Any]:
    """A direct call of a stored tool (an agent's, an MCP server's): ToolExecutionResult."""
    return {
        "status": result.status,
        "func_return": result.func_return,
        "agent_state": None,
        "stdout": list(result.stdout),
        "stderr": list(result.stderr),
        "sandbox_config_fingerprint": None,
    }


def mcp_server(row: t.McpServer) -> dict[str, Any]:
    """Letta's StdioMCPServer, SSEMCPServer or StreamableHTTPMCPServer; secrets masked."""
    view: dict[str, Any] = {
        "id": row.id,
        "server_name": row.name,
        "mcp_server_type": row.server_type,
        "timeout_seconds": row.timeout_seconds,
        # Engram's: whether the server answered when last asked for its tools, and if not why.
        "reachable": row.reachable,
        "last_error": row.last_error,
        "last_synced_at": _time(row.last_synced_at) if row.last_synced_at else None,
    }
    if row.server_type == STDIO:
        view.update(command=row.command, args=row.args or [], env=registry.masked_map(row.env))
    else:
        token = registry.mask(row.auth_token) if row.auth_token else None
        view.update(
            server_url=row.url,
            auth_header=row.auth_header,
            auth_token=token,
            custom_headers=registry.masked_map(row.custom_headers),
        )
    return view


def passage(row: t.Passage, embedding_config: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "text": row.text,
        "tags": row.tags or [],
        "metadata": row.metadata_ or {},
        "created_at": _time(row.created_at),
        "updated_at": _time(row.created_at),
        "created_by_id": None,
        "last_updated_by_id": None,
        "is_deleted": False,
        "organization_id": None,
        "archive_id": row.archive_id,
        "source_id": None,
        "file_id": None,
        "file_name": None,
        "agent_id": row.agent_id,
        "run_id": row.run_id,
        "step_id": row.step_id,
        "message_id": row.message_id,
        "source": passages.provenance(row),
        # Vectors are large and only meaningful to the server; Letta returns null here too.
        "embedding": None,
        "embedding_config": embedding_config,
    }


def folder_chunk(row: t.Passage, folder: t.Folder) -> dict[str, Any]:
    """A chunk of a folder's file as the contract's ``Passage``, naming its file."""
    return {
        **passage(row, folder.embedding_config),
        "source_id": folder.id,
        "file_id": row.file_id,
        "file_name": (row.metadata_ or {}).get("file_name"),
    }


# Engram has one organization; Letta's default organization id keeps its shape.
ORGANIZATION_ID = "org-00000000-0000-4000-8000-000000000000"


def archive(row: t.Archive) -> dict[str, Any]:
    """An archive as the contract's ``Archive``."""
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "organization_id": ORGANIZATION_ID,
        "vector_db_provider": "native",
        "embedding_config": row.embedding_config,
        "metadata": row.metadata_ or {},
        "created_at": as_utc(row.created_at).isoformat(),
        "updated_at": as_utc(row.updated_at).isoformat(),
        "created_by_id": None,
        "last_updated_by_id": None,
    }


def archival_result(row: t.Passage) -> dict[str, Any]:
    """One result of an agent's archival search (``/archival-memory/search``)."""
    return {
        "id": row.id,
        "timestamp": as_utc(row.created_at).isoformat(),
        "content": row.text,
        "tags": row.tags or [],
        "source": passages.provenance(row),
    }


def scored_passage(found: ScoredPassage) -> dict[str, Any]:
    """One result of ``POST /v1/passages/search``."""
    return {
        "passage": passage(found.passage, found.embedding_config),
        "score": found.score,
        "metadata": found.metadata,
    }


def compaction(done: Compaction) -> dict[str, Any]:
    """What ``/summarize`` answers: the summary and the window's size around the fold."""
    return {
        "summary": done.summary,
        "num_messages_before": done.messages_before,
        "num_messages_after": done.messages_after,
    }


# The message types a message search result can be (the contract's *MessageListResult).
_SEARCH_RESULT_TYPES = {"user_message", "assistant_message", "system_message"}


def message_search_results(row: t.Message) -> list[dict[str, Any]]:
    """A found message's user, assistant or system parts as message search results."""
    return [
        {
            "message_type": view["message_type"],
            "content": view["content"],
            "message_id": row.id,
            "agent_id": row.agent_id,
            "conversation_id": row.conversation_id,
            "created_at": as_utc(row.created_at).isoformat(),
        }
        for view in letta_messages(row)
        if view["message_type"] in _SEARCH_RESULT_TYPES
    ]


_COMPACTION_DEFAULTS: dict[str, Any] = {
    "model": None,
    "model_settings": None,
    "prompt": None,
    "prompt_acknowledgement": False,
    "clip_chars": 50_000,
    "mode": "sliding_window",
}


def _compaction(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the agent set, over Letta's defaults; unset Engram knobs stay out (they follow
    the server's settings). A number-typed field the client left unset is left out, not null."""
    if stored is None:
        return None
    shown = {**_COMPACTION_DEFAULTS, **stored}
    return {
        key: value
        for key, value in shown.items()
        if value is not None or key in _COMPACTION_DEFAULTS
    }


def _tool_env(row: t.Agent) -> list[dict[str, Any]]:
    """The variables the agent's custom tools get, in Letta's AgentEnvironmentVariable
    shape (values shown, as Letta shows them to the agent's owner)."""
    return [
        {
            "id": f"agent-env-{row.id}-{key}",
            "key": key,
            "value": value,
            "description": None,
            "agent_id": row.id,
            "organization_id": None,
            "value_enc": None,
            "created_by_id": None,
            "last_updated_by_id": None,
            "created_at": None,
            "updated_at": None,
        }
        for key, value in sorted((row.tool_env or {}).items())
    ]


def agent(bundle: AgentBundle) -> dict[str, Any]:
    row = bundle.agent
    blocks = [block(b) for b in bundle.blocks]
    return {
        "id": row.id,
        "name": row.name,
        "system": row.system,
        "agent_type": row.agent_type,
        "description": row.description,
        "metadata": row.metadata_ or {},
        "llm_config": row.llm_config,
        "embedding_config": row.embedding_config,
        "model": row.llm_config.get("handle"),
        "embedding": row.embedding_config.get("handle"),
        "model_settings": model_settings.settings_view(row.llm_config),
        "compaction_settings": _compaction(row.compaction_settings),
        "recall_assist": row.recall_assist,
        "response_format": row.llm_config.get("response_format"),
        "context_window_limit": row.context_window_limit,
        "tool_rules": row.tool_rules or [],
        "message_ids": bundle.message_ids,
        "memory": {
            "agent_type": row.agent_type,
            "git_enabled": False,
            "blocks": blocks,
            "file_blocks": _file_blocks(bundle.directories),
            "prompt_template": "",
        },
        "blocks": blocks,
        "tools": [tool(t_) for t_ in bundle.tools],
        "sources": [serialize_folders.folder(f) for f in bundle.folders],
        "tags": bundle.tags,
        "tool_exec_environment_variables": _tool_env(row),
        "secrets": [],
        "project_id": None,
        "template_id": None,
        "base_template_id": None,
        "deployment_id": None,
        "entity_id": None,
        "identity_ids": [linked.identity.id for linked in bundle.identities],
        "identities": [identity(linked) for linked in bundle.identities],
        "pending_approval": bundle.pending_approval,
        "message_buffer_autoclear": bool(row.message_buffer_autoclear),
        "enable_sleeptime": bundle.group is not None,
        "multi_agent_group": group(bundle.group) if bundle.group is not None else None,
        "managed_group": group(bundle.group) if bundle.group is not None else None,
        "last_run_completion": _time(row.last_run_completion),
        "last_run_duration_ms": row.last_run_duration_ms,
        "last_stop_reason": row.last_stop_reason,
        "timezone": row.timezone or "UTC",
        "max_files_open": row.max_files_open or file_settings.MAX_FILES_OPEN,
        "per_file_view_window_char_limit": (
            row.per_file_view_window_char_limit or file_settings.FILE_WINDOW_CHARS
        ),
        "hidden": None,
        "created_by_id": None,
        "last_updated_by_id": None,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
    }


def group(row: t.Group) -> dict[str, Any]:
    """A sleep-time pairing as Letta's ``Group``; ``archival_upkeep`` is Engram's own."""
    return {
        "id": row.id,
        "manager_type": row.manager_type,
        "agent_ids": [row.sleeptime_agent_id],
        "description": row.description,
        "project_id": None,
        "template_id": None,
        "base_template_id": None,
        "deployment_id": None,
        "shared_block_ids": [],
        "manager_agent_id": row.manager_agent_id,
        "termination_token": None,
        "max_turns": None,
        "sleeptime_agent_frequency": row.sleeptime_agent_frequency,
        "turns_counter": row.turns_counter,
        "last_processed_message_id": row.last_processed_message_id,
        "max_message_buffer_length": None,
        "min_message_buffer_length": None,
        "hidden": None,
        "archival_upkeep": upkeep_settings(row.archival_upkeep),
    }


def run(row: t.Run) -> dict[str, Any]:
    return {
        "id": row.id,
        "agent_id": row.agent_id,
        "status": row.status,
        "stop_reason": row.stop_reason,
        "background": row.background,
        "created_at": _time(row.created_at),
        "completed_at": _time(row.completed_at),
        "conversation_id": row.conversation_id,
        "base_template_id": None,
        "metadata": {**(row.metadata_ or {}), **({"error": row.error} if row.error else {})},
        "request_config": row.request_config,
        **callback_view(row.turn_input),
        "ttft_ns": row.ttft_ns,
        "total_duration_ns": row.total_duration_ns,
        # Engram's own: memory operations of the run (docs/memory.md); null before a step.
        "memory_metrics": row.memory_metrics,
    }


def step(row: t.Step) -> dict[str, Any]:
    """A step as Letta's ``Step``, with Engram's own timing and token count beside it."""
    return {
        "id": row.id,
        "origin": None,
        "organization_id": None,
        "provider_id": None,
        "run_id": row.run_id,
        "agent_id": row.agent_id,
        "provider_name": row.provider_name,
        "provider_category": "base",
        "model": row.model,
        "model_handle": row.model_handle,
        "model_endpoint": None,
        "context_window_limit": row.context_window_limit,
        "completion_tokens": row.completion_tokens,
        "prompt_tokens": row.prompt_tokens,
        "total_tokens": row.prompt_tokens + row.completion_tokens,
        "cached_input_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
        "completion_tokens_details": None,
        "prompt_tokens_details": None,
        # Rows written before steps carried only real stop reasons said "tool_calls".
        "stop_reason": row.stop_reason if row.stop_reason in STOP_REASONS else None,
        "tags": list(row.feedback_tags or []),
        "tid": None,
        "trace_id": None,
        "request_id": None,
        "messages": [],
        "feedback": row.feedback,
        "project_id": None,
        "error_type": None,
        "error_data": None,
        "status": row.status,
        "created_at": as_utc(row.created_at).isoformat(),
        "duration_ms": row.duration_ms,
        "counted_prompt_tokens": row.counted_prompt_tokens,
        # Engram's own (Letta's Step has no such field): the thread the step ran in, null
        # for the agent's default one, as on its run and messages.
        "conversation_id": row.conversation_id,
    }


def usage(run: t.Run) -> dict[str, Any]:
    """A run's token totals as Letta's ``UsageStatistics``."""
    return {
        "completion_tokens": run.completion_tokens,
        "prompt_tokens": run.prompt_tokens,
        "total_tokens": run.prompt_tokens + run.completion_tokens,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def imported_agents(result: ImportResult) -> dict[str, Any]:
    """Letta's ``ImportedAgentsResponse`` (``agent_ids``), with Engram's account of the
    file's tools created, replaced and kept, of the tool variables left without value, and
    of each part of the file left out or changed."""
    return {
        "agent_ids": result.agent_ids,
        "created_tools": result.tools.created,
        "replaced_tools": result.tools.replaced,
        "kept_tools": result.tools.kept,
        "tool_variables_without_value": result.variables_without_value,
        "adjustments": [item.as_json() for item in result.adjustments],
    }


def identity(linked: Linked) -> dict[str, Any]:
    """Letta's Identity; ``project_id`` null when it has none."""
    row = linked.identity
    return {
        "id": row.id,
        "identifier_key": row.identifier_key,
        "name": row.name,
        "identity_type": row.identity_type,
        "project_id": row.project_key or None,
        "agent_ids": linked.agent_ids,
        "block_ids": linked.block_ids,
        "organization_id": None,
        "properties": row.properties or [],
    }


def tool_search_result(match: ToolMatch) -> dict[str, Any]:
    """Letta's ``ToolSearchResult``."""
    return {
        "tool": tool(match.tool),
        "embedded_text": match.text,
        "fts_rank": match.fts_rank,
        "vector_rank": match.vector_rank,
        "combined_score": match.score,
    }
