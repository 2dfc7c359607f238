"""Everything one step needs to know about an agent, loaded in a handful of queries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.memory import directories
from engram.memory.memfs import GIT_MEMORY_TAG
from engram.runtime.context import CompiledContext, compile_context
from engram.runtime.window import Window, WindowCache
from engram.store import agents, blocks, messages, passages, tools
from engram.store import tables as t


@dataclass
class AgentState:
    agent: t.Agent
    blocks: list[t.Block]
    tools: list[t.Tool]
    window: Window
    recall_count: int
    archival_count: int
    memfs: bool = False
    """Tagged ``git-memory-enabled``: its memory reads as Letta's MemFS (memory/memfs.py)."""
    directories: str = ""
    """Its folders' files as the prompt shows them; empty when it has no folder."""


def load_state(
    session: Session, agent_id: str, windows: WindowCache, *, run_id: str | None = None
) -> tuple[AgentState, str | None]:
    """The agent's state, and the status of ``run_id`` read in the same snapshot."""
    agent = agents.get(session, agent_id)
    memfs_tag = select(t.AgentTag.tag).where(
        t.AgentTag.agent_id == agent_id, t.AgentTag.tag == GIT_MEMORY_TAG
    )
    has_folders = select(t.AgentFolder.folder_id).where(t.AgentFolder.agent_id == agent_id)
    recall_count, archival_count, run_status, memfs, folders = (
        session.execute(
            select(
                messages.count_query(agent_id).scalar_subquery(),
                passages.count_query(agent_id).scalar_subquery(),
                select(t.Run.status).where(t.Run.id == run_id).scalar_subquery(),
                memfs_tag.exists(),
                has_folders.exists(),
            )
        )
    ).one()
    state = AgentState(
        agent=agent,
        blocks=blocks.for_agent(session, agent_id),
        tools=tools.for_agent(session, agent_id),
        window=windows.window(session, agent),
        recall_count=int(recall_count),
        archival_count=int(archival_count),
        memfs=bool(memfs),
        directories=directories.load(session, agent).render() if folders else "",
    )
    return state, run_status


def compile_state(state: AgentState) -> CompiledContext:
    return compile_context(
        state.agent,
        state.blocks,
        state.tools,
        state.window,
        recall_count=state.recall_count,
        archival_count=state.archival_count,
        memfs=state.memfs,
        directories=state.directories,
    )
