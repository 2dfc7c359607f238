"""Tool rows and which agents carry them."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from engram.errors import NotFound
from engram.store import tables as t


async def get(session: AsyncSession, tool_id: str) -> t.Tool:
    tool = await session.get(t.Tool, tool_id)
    if tool is None:
        raise NotFound("tool", tool_id)
    return tool


async def by_names(session: AsyncSession, names: list[str]) -> dict[str, t.Tool]:
    if not names:
        return {}
    rows = await session.scalars(select(t.Tool).where(t.Tool.name.in_(names)))
    return {row.name: row for row in rows}


async def for_agent(session: AsyncSession, agent_id: str) -> list[t.Tool]:
    rows = await session.scalars(
        select(t.Tool)
        .join(t.AgentTool, t.AgentTool.tool_id == t.Tool.id)
        .where(t.AgentTool.agent_id == agent_id)
        .order_by(t.Tool.name)
    )
    return list(rows)


async def attach(session: AsyncSession, agent_id: str, tool_ids: list[str]) -> None:
    present = set(
        await session.scalars(select(t.AgentTool.tool_id).where(t.AgentTool.agent_id == agent_id))
    )
    for tool_id in dict.fromkeys(tool_ids):
        if tool_id not in present:
            session.add(t.AgentTool(agent_id=agent_id, tool_id=tool_id))


async def detach(session: AsyncSession, agent_id: str, tool_id: str) -> None:
    await session.execute(
        delete(t.AgentTool).where(t.AgentTool.agent_id == agent_id, t.AgentTool.tool_id == tool_id)
    )
