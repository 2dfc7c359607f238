"""Everything one step needs to know about an agent, loaded in a handful of queries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from engram.store import agents, blocks, messages, passages, tools
from engram.store import tables as t


@dataclass
class AgentState:
    agent: t.Agent
    blocks: list[t.Block]
    tools: list[t.Tool]
    window: list[t.Message]
    recall_count: int
    archival_count: int


async def load_state(
    session: AsyncSession, agent_id: str, *, with_counts: bool = True
) -> AgentState:
    agent = await agents.get(session, agent_id)
    return AgentState(
        agent=agent,
        blocks=await blocks.for_agent(session, agent_id),
        tools=await tools.for_agent(session, agent_id),
        window=await messages.in_context(session, agent),
        recall_count=await messages.count(session, agent_id) if with_counts else 0,
        archival_count=await passages.count(session, agent_id) if with_counts else 0,
    )
