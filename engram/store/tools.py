"""Tool rows and which agents carry them."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.store import tables as t


def get(session: Session, tool_id: str) -> t.Tool:
    tool = session.get(t.Tool, tool_id)
    if tool is None:
        raise NotFound("tool", tool_id)
    return tool


def by_names(session: Session, names: list[str]) -> dict[str, t.Tool]:
    if not names:
        return {}
    rows = session.scalars(select(t.Tool).where(t.Tool.name.in_(names)))
    return {row.name: row for row in rows}


def for_agent(session: Session, agent_id: str) -> list[t.Tool]:
    rows = session.scalars(
        select(t.Tool)
        .join(t.AgentTool, t.AgentTool.tool_id == t.Tool.id)
        .where(t.AgentTool.agent_id == agent_id)
        .order_by(t.Tool.name)
    )
    return list(rows)


def attach(session: Session, agent_id: str, tool_ids: list[str]) -> None:
    present = set(
        session.scalars(select(t.AgentTool.tool_id).where(t.AgentTool.agent_id == agent_id))
    )
    for tool_id in dict.fromkeys(tool_ids):
        if tool_id not in present:
            session.add(t.AgentTool(agent_id=agent_id, tool_id=tool_id))


def detach(session: Session, agent_id: str, tool_id: str) -> None:
    session.execute(
        delete(t.AgentTool).where(t.AgentTool.agent_id == agent_id, t.AgentTool.tool_id == tool_id)
    )
