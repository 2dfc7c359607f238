"""Tools follow folders: an agent carries the three file tools while it has at least one
folder attached, and loses them with its last folder, as Letta's agents do.

Called by the operations that attach and detach folders, inside their transaction, after
the attachment rows changed, so an agent never has folders without the tools to read
them, nor the tools without a folder.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.memory.file_tools import FILE_TOOL_NAMES, FILE_TOOL_TYPE
from engram.store import tables as t
from engram.store import tools


def sync_file_tools(session: Session, agent_id: str) -> None:
    """Attach the file tools when the agent has a folder, detach them when it has none.
    Idempotent; a custom tool that took one of their names is left alone."""
    has_folders = session.scalar(
        select(select(t.AgentFolder.folder_id).where(t.AgentFolder.agent_id == agent_id).exists())
    )
    builtin = [
        tool
        for tool in tools.by_names(session, list(FILE_TOOL_NAMES)).values()
        if tool.tool_type == FILE_TOOL_TYPE
    ]
    if has_folders:
        tools.attach(session, agent_id, [tool.id for tool in builtin])
    else:
        for tool in builtin:
            tools.detach(session, agent_id, tool.id)
    session.flush()
