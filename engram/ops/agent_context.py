"""The context window an agent's next step would send, broken down by section, as
``GET /v1/agents/{agent_id}/context`` shows it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from engram.ops.deps import HasDb
from engram.runtime.context import window_size
from engram.runtime.state import compile_state, load_state
from engram.runtime.views import letta_messages

if TYPE_CHECKING:
    from engram.runtime.window import WindowCache


class HasWindows(HasDb, Protocol):
    """Reads an agent's cached in-context window along with its rows."""

    @property
    def windows(self) -> WindowCache: ...


async def overview(deps: HasWindows, agent_id: str) -> dict[str, Any]:
    """The context window the agent's next step would send, section by section, as
    Letta's ``ContextWindowOverview`` (``GET /v1/agents/{agent_id}/context``)."""
    state = await deps.db.read(lambda session: load_state(session, agent_id, deps.windows)[0])
    context = compile_state(state)
    return {
        "context_window_size_max": window_size(state.agent),
        "context_window_size_current": context.total_tokens,
        "num_messages": len(state.window.rows),
        "num_archival_memory": state.archival_count,
        "num_recall_memory": state.recall_count,
        "num_tokens_external_memory_summary": 0,
        "external_memory_summary": "",
        "num_tokens_system": context.system_tokens,
        "system_prompt": context.system,
        "num_tokens_core_memory": context.core_memory_tokens,
        "core_memory": context.core_memory,
        "num_tokens_summary_memory": context.summary_tokens,
        "summary_memory": context.summary or None,
        "num_tokens_functions_definitions": context.tool_tokens,
        "functions_definitions": [tool["function"] for tool in context.tools],
        "num_tokens_messages": context.message_tokens,
        "messages": [view for row in state.window.rows for view in letta_messages(row)],
        "num_tokens_memory_filesystem": 0,
        "memory_filesystem": None,
        "num_tokens_tool_usage_rules": 0,
        "tool_usage_rules": None,
        "num_tokens_directories": context.directories_tokens,
        "directories": context.directories or None,
    }
