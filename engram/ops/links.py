"""Attaching a block, tool, archive or identity to an agent and detaching it: one shape for
all four, each checked (the agent and the item exist) and done in one transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from engram.errors import Conflict
from engram.ops import sleeptime
from engram.ops.agents import AgentBundle, bundle
from engram.ops.deps import HasDb
from engram.store import agents, archives, blocks, identities, tools
from engram.store import tables as t

LinkKind = Literal["block", "tool", "archive", "identity"]


@dataclass(frozen=True)
class _Link:
    get: Callable[[Session, str], Any]
    attach: Callable[[Session, t.Agent, Any], None]
    detach: Callable[[Session, str, str], None]


_LINKS: dict[LinkKind, _Link] = {
    "block": _Link(
        blocks.get,
        lambda session, agent, block: blocks.attach(session, agent.id, block),
        blocks.detach,
    ),
    "tool": _Link(
        tools.get,
        lambda session, agent, tool: tools.attach(session, agent.id, [tool.id]),
        tools.detach,
    ),
    "archive": _Link(archives.get, archives.attach, archives.detach),
    # The agent belongs to the identity (engram.ops.identities).
    "identity": _Link(
        identities.get,
        lambda session, agent, identity: identities.attach_agents(session, identity.id, [agent.id]),
        lambda session, agent_id, identity_id: identities.detach_agents(
            session, identity_id, [agent_id]
        ),
    ),
}


async def attach(deps: HasDb, agent_id: str, kind: LinkKind, item_id: str) -> AgentBundle:
    """Attach the ``kind`` ``item_id`` to the agent; the agent as it now is."""
    link = _LINKS[kind]

    def _write(session: Session) -> AgentBundle:
        agent = agents.get(session, agent_id)
        item = link.get(session, item_id)
        link.attach(session, agent, item)
        follower = sleeptime.follower_of(session, agent_id)
        if kind in sleeptime.SHARED_LINKS and follower is not None:
            # Its sleep-time agent shares it, unless it cannot (a block label it has, an
            # archive of another embedding): the main agent's attach stands either way.
            with contextlib.suppress(Conflict):
                link.attach(session, follower, item)
        session.flush()
        return bundle(session, agent_id)

    return await deps.db.write(_write)


async def detach(deps: HasDb, agent_id: str, kind: LinkKind, item_id: str) -> AgentBundle:
    """Detach the ``kind`` ``item_id`` from the agent; the agent as it now is."""
    link = _LINKS[kind]

    def _write(session: Session) -> AgentBundle:
        agents.get(session, agent_id)
        link.get(session, item_id)
        link.detach(session, agent_id, item_id)
        follower = sleeptime.follower_of(session, agent_id)
        if kind in sleeptime.SHARED_LINKS and follower is not None:
            link.detach(session, follower.id, item_id)
        session.flush()
        return bundle(session, agent_id)

    return await deps.db.write(_write)
