"""Agent files (.af): an agent with its memory, tools and history as one portable document.

The document is Letta's ``AgentFileSchema``, so files move between Letta and Engram both
ways. Ids inside a file are file-local references (``agent-0``, ``block-1``, ``message-7``);
an import gives every object a fresh id and writes all of it in one transaction.

Engram keeps two things Letta's schema has no field for, the running summary and the
archival passages; they travel under each agent's ``engram`` key, which Letta ignores.
Passages carry no vectors: an import embeds them again with the new agent's model.
"""

from __future__ import annotations

from engram.ops.agent_file.document import AgentFile, parse_agent_file
from engram.ops.agent_file.exporting import export_agent_file
from engram.ops.agent_file.importing import ImportOptions, ImportResult, import_agent_file

__all__ = [
    "AgentFile",
    "ImportOptions",
    "ImportResult",
    "export_agent_file",
    "import_agent_file",
    "parse_agent_file",
]
