"""Every method and path of Letta's v1 REST API that the pinned ``letta-client`` calls.

Taken from Letta server 0.16.8's OpenAPI document (the last Python release), limited to the
operations ``letta-client`` 1.12.1 sends; ``docs/compatibility.md`` says how far Engram serves
each. Kept as data in the package so the server never reads a document at run time. Paths are
spelled exactly as Letta spelled them, trailing slashes included: the SDK requests them verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAMETER = re.compile(r"\{[^}/]+\}")


@dataclass(frozen=True, order=True)
class ContractPath:
    """One operation of the contract: HTTP method, path template and Letta's operation id."""

    method: str
    path: str
    operation: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def shape(self) -> tuple[str, str]:
        """The (method, path shape) a served route must have to answer this operation."""
        return self.method, path_shape(self.path)


def path_shape(path: str) -> str:
    """A path template with parameter names and a trailing slash dropped, so that
    ``/v1/blocks/{block_id}/`` and ``/v1/blocks/{id}`` compare equal: both answer one URL."""
    shape = _PARAMETER.sub("{}", path)
    return shape.rstrip("/") or "/"


CONTRACT_PATHS: tuple[ContractPath, ...] = (
    ContractPath("GET", "/v1/agents/", "list_agents"),
    ContractPath("POST", "/v1/agents/", "create_agent"),
    ContractPath("GET", "/v1/agents/count", "count_agents"),
    ContractPath("POST", "/v1/agents/import", "import_agent"),
    ContractPath("PATCH", "/v1/agents/{agent_id}", "modify_agent"),
    ContractPath("GET", "/v1/agents/{agent_id}", "retrieve_agent"),
    ContractPath("DELETE", "/v1/agents/{agent_id}", "delete_agent"),
    ContractPath("GET", "/v1/agents/{agent_id}/archival-memory", "list_passages"),
    ContractPath("POST", "/v1/agents/{agent_id}/archival-memory", "create_passage"),
    ContractPath("GET", "/v1/agents/{agent_id}/archival-memory/search", "search_archival_memory"),
    ContractPath("DELETE", "/v1/agents/{agent_id}/archival-memory/{memory_id}", "delete_passage"),
    ContractPath(
        "PATCH", "/v1/agents/{agent_id}/archives/attach/{archive_id}", "attach_archive_to_agent"
    ),
    ContractPath(
        "PATCH", "/v1/agents/{agent_id}/archives/detach/{archive_id}", "detach_archive_from_agent"
    ),
    ContractPath("GET", "/v1/agents/{agent_id}/context", "retrieve_agent_context_window"),
    ContractPath("GET", "/v1/agents/{agent_id}/core-memory/blocks", "list_core_memory_blocks"),
    ContractPath(
        "PATCH",
        "/v1/agents/{agent_id}/core-memory/blocks/attach/{block_id}",
        "attach_core_memory_block",
    ),
    ContractPath(
        "PATCH",
        "/v1/agents/{agent_id}/core-memory/blocks/detach/{block_id}",
        "detach_core_memory_block",
    ),
    ContractPath(
        "GET",
        "/v1/agents/{agent_id}/core-memory/blocks/{block_label}",
        "retrieve_core_memory_block",
    ),
    ContractPath(
        "PATCH",
        "/v1/agents/{agent_id}/core-memory/blocks/{block_label}",
        "modify_core_memory_block",
    ),
    ContractPath("GET", "/v1/agents/{agent_id}/export", "export_agent"),
    ContractPath("POST", "/v1/agents/{agent_id}/export", "export_agent_with_skills"),
    ContractPath("GET", "/v1/agents/{agent_id}/files", "list_files_for_agent"),
    ContractPath("PATCH", "/v1/agents/{agent_id}/files/close-all", "close_all_files_for_agent"),
    ContractPath("PATCH", "/v1/agents/{agent_id}/files/{file_id}/close", "close_file_for_agent"),
    ContractPath("PATCH", "/v1/agents/{agent_id}/files/{file_id}/open", "open_file_for_agent"),
    ContractPath("GET", "/v1/agents/{agent_id}/folders", "list_folders_for_agent"),
    ContractPath(
        "PATCH", "/v1/agents/{agent_id}/folders/attach/{folder_id}", "attach_folder_to_agent"
    ),
    ContractPath(
        "PATCH", "/v1/agents/{agent_id}/folders/detach/{folder_id}", "detach_folder_from_agent"
    ),
    ContractPath(
        "PATCH", "/v1/agents/{agent_id}/identities/attach/{identity_id}", "attach_identity_to_agent"
    ),
    ContractPath(
        "PATCH",
        "/v1/agents/{agent_id}/identities/detach/{identity_id}",
        "detach_identity_from_agent",
    ),
    ContractPath("GET", "/v1/agents/{agent_id}/messages", "list_messages"),
    ContractPath("POST", "/v1/agents/{agent_id}/messages", "send_message"),
    ContractPath("POST", "/v1/agents/{agent_id}/messages/async", "create_agent_message_async"),
    ContractPath("POST", "/v1/agents/{agent_id}/messages/cancel", "cancel_message"),
    ContractPath("POST", "/v1/agents/{agent_id}/messages/stream", "create_agent_message_stream"),
    ContractPath("POST", "/v1/agents/{agent_id}/recompile", "recompile_agent"),
    ContractPath("PATCH", "/v1/agents/{agent_id}/reset-messages", "reset_messages"),
    ContractPath("POST", "/v1/agents/{agent_id}/summarize", "summarize_messages"),
    ContractPath("GET", "/v1/agents/{agent_id}/tools", "list_tools_for_agent"),
    ContractPath(
        "PATCH", "/v1/agents/{agent_id}/tools/approval/{tool_name}", "modify_approval_for_tool"
    ),
    ContractPath("PATCH", "/v1/agents/{agent_id}/tools/attach/{tool_id}", "attach_tool_to_agent"),
    ContractPath("PATCH", "/v1/agents/{agent_id}/tools/detach/{tool_id}", "detach_tool_from_agent"),
    ContractPath("POST", "/v1/agents/{agent_id}/tools/{tool_name}/run", "run_tool_for_agent"),
    ContractPath("POST", "/v1/archives/", "create_archive"),
    ContractPath("GET", "/v1/archives/", "list_archives"),
    ContractPath("GET", "/v1/archives/{archive_id}", "retrieve_archive"),
    ContractPath("PATCH", "/v1/archives/{archive_id}", "modify_archive"),
    ContractPath("DELETE", "/v1/archives/{archive_id}", "delete_archive"),
    ContractPath("POST", "/v1/archives/{archive_id}/passages", "create_passage_in_archive"),
    ContractPath("POST", "/v1/archives/{archive_id}/passages/batch", "create_passages_in_archive"),
    ContractPath(
        "DELETE", "/v1/archives/{archive_id}/passages/{passage_id}", "delete_passage_from_archive"
    ),
    ContractPath("GET", "/v1/blocks/", "list_blocks"),
    ContractPath("POST", "/v1/blocks/", "create_block"),
    ContractPath("PATCH", "/v1/blocks/{block_id}", "modify_block"),
    ContractPath("DELETE", "/v1/blocks/{block_id}", "delete_block"),
    ContractPath("GET", "/v1/blocks/{block_id}", "retrieve_block"),
    ContractPath("GET", "/v1/blocks/{block_id}/agents", "list_agents_for_block"),
    ContractPath("POST", "/v1/conversations/", "create_conversation"),
    ContractPath("GET", "/v1/conversations/", "list_conversations"),
    ContractPath("GET", "/v1/conversations/{conversation_id}", "retrieve_conversation"),
    ContractPath("PATCH", "/v1/conversations/{conversation_id}", "update_conversation"),
    ContractPath("DELETE", "/v1/conversations/{conversation_id}", "delete_conversation"),
    ContractPath("POST", "/v1/conversations/{conversation_id}/cancel", "cancel_conversation"),
    ContractPath("POST", "/v1/conversations/{conversation_id}/compact", "compact_conversation"),
    ContractPath("POST", "/v1/conversations/{conversation_id}/fork", "fork_conversation"),
    ContractPath(
        "GET", "/v1/conversations/{conversation_id}/messages", "list_conversation_messages"
    ),
    ContractPath(
        "POST", "/v1/conversations/{conversation_id}/messages", "send_conversation_message"
    ),
    ContractPath("POST", "/v1/conversations/{conversation_id}/recompile", "recompile_conversation"),
    ContractPath(
        "POST", "/v1/conversations/{conversation_id}/stream", "retrieve_conversation_stream"
    ),
    ContractPath("GET", "/v1/folders/", "list_folders"),
    ContractPath("POST", "/v1/folders/", "create_folder"),
    ContractPath("GET", "/v1/folders/{folder_id}", "retrieve_folder"),
    ContractPath("PATCH", "/v1/folders/{folder_id}", "modify_folder"),
    ContractPath("DELETE", "/v1/folders/{folder_id}", "delete_folder"),
    ContractPath("GET", "/v1/folders/{folder_id}/agents", "list_agents_for_folder"),
    ContractPath("GET", "/v1/folders/{folder_id}/files", "list_files_for_folder"),
    ContractPath("GET", "/v1/folders/{folder_id}/files/{file_id}", "retrieve_file"),
    ContractPath("POST", "/v1/folders/{folder_id}/upload", "upload_file_to_folder"),
    ContractPath("DELETE", "/v1/folders/{folder_id}/{file_id}", "delete_file_from_folder"),
    ContractPath("GET", "/v1/health/", "check_health"),
    ContractPath("POST", "/v1/mcp-servers/", "mcp_create_mcp_server"),
    ContractPath("GET", "/v1/mcp-servers/", "mcp_list_mcp_servers"),
    ContractPath("GET", "/v1/mcp-servers/{mcp_server_id}", "mcp_retrieve_mcp_server"),
    ContractPath("DELETE", "/v1/mcp-servers/{mcp_server_id}", "mcp_delete_mcp_server"),
    ContractPath("PATCH", "/v1/mcp-servers/{mcp_server_id}", "mcp_update_mcp_server"),
    ContractPath(
        "PATCH", "/v1/mcp-servers/{mcp_server_id}/refresh", "mcp_refresh_mcp_server_tools"
    ),
    ContractPath("GET", "/v1/mcp-servers/{mcp_server_id}/tools", "mcp_list_tools_for_mcp_server"),
    ContractPath("GET", "/v1/mcp-servers/{mcp_server_id}/tools/{tool_id}", "mcp_retrieve_mcp_tool"),
    ContractPath("POST", "/v1/mcp-servers/{mcp_server_id}/tools/{tool_id}/run", "mcp_run_tool"),
    ContractPath("GET", "/v1/messages/", "list_all_messages"),
    ContractPath("POST", "/v1/messages/search", "search_all_messages"),
    ContractPath("GET", "/v1/messages/{message_id}", "retrieve_message"),
    ContractPath("GET", "/v1/models/", "list_models"),
    ContractPath("GET", "/v1/models/embedding", "list_embedding_models"),
    ContractPath("POST", "/v1/passages/search", "search_passages"),
    ContractPath("GET", "/v1/runs/", "list_runs"),
    ContractPath("GET", "/v1/runs/{run_id}", "retrieve_run"),
    ContractPath("DELETE", "/v1/runs/{run_id}", "delete_run"),
    ContractPath("GET", "/v1/runs/{run_id}/messages", "list_messages_for_run"),
    ContractPath("GET", "/v1/runs/{run_id}/steps", "list_steps_for_run"),
    ContractPath("POST", "/v1/runs/{run_id}/stream", "retrieve_stream_for_run"),
    ContractPath("GET", "/v1/runs/{run_id}/trace", "retrieve_trace_for_run"),
    ContractPath("GET", "/v1/runs/{run_id}/usage", "retrieve_usage_for_run"),
    ContractPath("GET", "/v1/steps/", "list_steps"),
    ContractPath("GET", "/v1/steps/{step_id}", "retrieve_step"),
    ContractPath("PATCH", "/v1/steps/{step_id}/feedback", "modify_feedback_for_step"),
    ContractPath("GET", "/v1/steps/{step_id}/messages", "list_messages_for_step"),
    ContractPath("GET", "/v1/steps/{step_id}/metrics", "retrieve_metrics_for_step"),
    ContractPath("GET", "/v1/steps/{step_id}/trace", "retrieve_trace_for_step"),
    ContractPath("GET", "/v1/tags/", "list_tags"),
    ContractPath("GET", "/v1/tools/", "list_tools"),
    ContractPath("POST", "/v1/tools/", "create_tool"),
    ContractPath("PUT", "/v1/tools/", "upsert_tool"),
    ContractPath("POST", "/v1/tools/run", "run_tool_from_source"),
    ContractPath("POST", "/v1/tools/search", "search_tools"),
    ContractPath("DELETE", "/v1/tools/{tool_id}", "delete_tool"),
    ContractPath("GET", "/v1/tools/{tool_id}", "retrieve_tool"),
    ContractPath("PATCH", "/v1/tools/{tool_id}", "modify_tool"),
)
