"""Agent files (.af): an agent with its memory, tools and history as one portable document.

The document is Letta's ``AgentFileSchema``, so files move between Letta and Engram both
ways. Ids inside a file are file-local references (``agent-0``, ``block-1``, ``message-7``);
an import gives every object a fresh id and writes all of it in one transaction.

Engram keeps two things Letta's schema has no field for, the running summary and the
archival passages; they travel under each agent's ``engram`` key, which Letta ignores.
Passages carry no vectors: an import embeds them again with the new agent's model.

The three shapes Letta reads (the current layout, the same encoded as a JSON string, the
legacy single agent) are all read; parts Engram cannot hold yet are refused by name or,
with ``strip_unsupported``, left out and reported (unsupported.py).
"""

from __future__ import annotations

from engram.ops.agent_file.document import AgentFile, check_agent_file, load_agent_file
from engram.ops.agent_file.exporting import export_agent_file
from engram.ops.agent_file.importing import ImportOptions, ImportResult, import_agent_file
from engram.ops.agent_file.unsupported import Adjustment

__all__ = [
    "AgentFile",
    "Adjustment",
    "ImportOptions",
    "ImportResult",
    "export_agent_file",
    "import_agent_file",
    "check_agent_file",
    "load_agent_file",
]
