"""Everything one step needs to know about an agent, loaded in a handful of queries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.llm import model_settings
from engram.memory import directories
from engram.memory.memfs import GIT_MEMORY_TAG
from engram.runtime.context import CompiledContext, compile_context
from engram.runtime.window import Window, WindowCache
from engram.store import agents, conversations, messages, passages, tools
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
    conversation_id: str | None = None
    """The thread this state is of: None for the agent's default one."""


def load_state(
    session: Session,
    agent_id: str,
    windows: WindowCache,
    *,
    run_id: str | None = None,
    conversation_id: str | None = None,
) -> tuple[AgentState, str | None]:
    """The agent's state, and the status of ``run_id`` read in the same snapshot. With
    ``conversation_id``, as that conversation sees it (``thread_agent``)."""
    agent = thread_agent(session, agents.get(session, agent_id), conversation_id)
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
        blocks=conversations.thread_blocks(session, agent_id, conversation_id),
        tools=tools.for_agent(session, agent_id),
        window=windows.window(session, agent, conversation_id),
        recall_count=int(recall_count),
        archival_count=int(archival_count),
        memfs=bool(memfs),
        directories=directories.load(session, agent).render() if folders else "",
        conversation_id=conversation_id,
    )
    return state, run_status


def thread_agent(session: Session, agent: t.Agent, conversation_id: str | None) -> t.Agent:
    """``agent`` as a turn of the conversation sees it: the conversation's window cursor,
    running summary, model and model settings in place of the agent's own. The row is
    detached first, so these stand-ins are never written back; NotFound if the
    conversation is not the agent's."""
    if conversation_id is None:
        return agent
    thread = conversations.get(session, conversation_id, agent.id)
    session.expunge(agent)
    agent.window_start_seq = thread.window_start_seq
    agent.summary = thread.fold_summary
    agent.summary_tokens = thread.fold_summary_tokens
    if thread.llm_config is not None:
        agent.llm_config = thread.llm_config
    if thread.model_settings:
        # Checked against this config when they were set; a later change of the agent's
        # model to another provider can make them not fit, which is said naming them.
        agent.llm_config = model_settings.apply_settings(
            agent.llm_config, thread.model_settings, field=SETTINGS_FIELD
        )
    return agent


SETTINGS_FIELD = "conversation.model_settings"
"""How a conversation's settings are named when they no longer fit the model a turn uses."""


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
