"""Every built-in tool a server has, by name: the memory tools (run inside the step's
transaction), the tools that leave the server (code, web) and the agent-to-agent tools.
Agent-file import asks here whether a ``letta_*`` tool in a file is one this server runs."""

from __future__ import annotations

from typing import Any

from engram.memory.tools import BASE_TOOL_SCHEMAS
from engram.runtime.agent_calls import AGENT_CALL_SCHEMAS
from engram.tools.builtins import BUILTIN_TOOL_SCHEMAS

BUILTIN_SCHEMAS: dict[str, dict[str, Any]] = {
    **BASE_TOOL_SCHEMAS,
    **BUILTIN_TOOL_SCHEMAS,
    **AGENT_CALL_SCHEMAS,
}
