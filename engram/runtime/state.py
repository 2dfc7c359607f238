"""Everything one step needs to know about an agent, loaded in a handful of queries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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


async def load_state(
    session: AsyncSession, agent_id: str, windows: WindowCache, *, run_id: str | None = None
) -> tuple[AgentState, str | None]:
    """The agent's state, and the status of ``run_id`` read in the same snapshot."""
    agent = await agents.get(session, agent_id)
    recall_count, archival_count, run_status = (
        await session.execute(
            select(
                messages.count_query(agent_id).scalar_subquery(),
                passages.count_query(agent_id).scalar_subquery(),
                select(t.Run.status).where(t.Run.id == run_id).scalar_subquery(),
            )
        )
    ).one()
    state = AgentState(
        agent=agent,
        blocks=await blocks.for_agent(session, agent_id),
        tools=await tools.for_agent(session, agent_id),
        window=await windows.window(session, agent),
        recall_count=int(recall_count),
        archival_count=int(archival_count),
    )
    return state, run_status
