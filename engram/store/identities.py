"""Identity rows and which agents and blocks belong to each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engram.errors import Conflict, NotFound
from engram.ids import new_id
from engram.store import tables as t
from engram.store.pagination import apply_cursor


def get(session: Session, identity_id: str) -> t.Identity:
    identity = session.get(t.Identity, identity_id)
    if identity is None:
        raise NotFound("identity", identity_id)
    return identity


def by_key(session: Session, identifier_key: str, project_id: str | None) -> t.Identity | None:
    return session.scalar(
        select(t.Identity).where(
            t.Identity.identifier_key == identifier_key,
            t.Identity.project_key == (project_id or ""),
        )
    )


def add(
    session: Session,
    *,
    identifier_key: str,
    name: str,
    identity_type: str,
    project_id: str | None,
    properties: list[dict[str, Any]],
) -> t.Identity:
    """A new identity; Conflict naming the key when the project already has one with it."""
    check_key_free(session, identifier_key, project_id)
    row = t.Identity(
        id=new_id("identity"),
        identifier_key=identifier_key,
        name=name,
        identity_type=identity_type,
        project_key=project_id or "",
        properties=properties,
    )
    session.add(row)
    flush_unique(session, identifier_key, project_id)
    return row


def check_key_free(
    session: Session, identifier_key: str, project_id: str | None, *, other_than: str = ""
) -> None:
    found = by_key(session, identifier_key, project_id)
    if found is not None and found.id != other_than:
        raise key_taken(identifier_key, project_id)


def flush_unique(session: Session, identifier_key: str, project_id: str | None) -> None:
    """Flush, reporting a key taken meanwhile by a concurrent request as the same Conflict."""
    try:
        session.flush()
    except IntegrityError:
        raise key_taken(identifier_key, project_id) from None


def key_taken(identifier_key: str, project_id: str | None) -> Conflict:
    where = f" in project '{project_id}'" if project_id else ""
    return Conflict(
        f"identifier_key: an identity with identifier key '{identifier_key}' already exists{where}"
    )


def list_identities(
    session: Session,
    *,
    name: str | None,
    project_id: str | None,
    identifier_key: str | None,
    identity_type: str | None,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
) -> list[t.Identity]:
    query = select(t.Identity)
    if name:
        # As Letta: the name filter matches part of the name, any case.
        query = query.where(t.Identity.name.icontains(name, autoescape=True))
    if project_id:
        query = query.where(t.Identity.project_key == project_id)
    if identifier_key:
        query = query.where(t.Identity.identifier_key == identifier_key)
    if identity_type:
        query = query.where(t.Identity.identity_type == identity_type)
    query = apply_cursor(
        session,
        query,
        model=t.Identity,
        order_column=t.Identity.created_at,
        kind="identity",
        before=before,
        after=after,
        limit=limit,
        descending=descending,
    )
    return list(session.scalars(query))


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(t.Identity)) or 0)


# --------------------------------------------------------------------------- links


def agent_ids_of(session: Session, identity_id: str) -> list[str]:
    rows = session.scalars(
        select(t.IdentityAgent.agent_id)
        .join(t.Agent, t.Agent.id == t.IdentityAgent.agent_id)
        .where(t.IdentityAgent.identity_id == identity_id)
        .order_by(t.Agent.created_at)
    )
    return list(rows)


def block_ids_of(session: Session, identity_id: str) -> list[str]:
    rows = session.scalars(
        select(t.IdentityBlock.block_id)
        .join(t.Block, t.Block.id == t.IdentityBlock.block_id)
        .where(t.IdentityBlock.identity_id == identity_id)
        .order_by(t.Block.created_at)
    )
    return list(rows)


def for_agent(session: Session, agent_id: str) -> list[t.Identity]:
    rows = session.scalars(
        select(t.Identity)
        .join(t.IdentityAgent, t.IdentityAgent.identity_id == t.Identity.id)
        .where(t.IdentityAgent.agent_id == agent_id)
        .order_by(t.Identity.created_at)
    )
    return list(rows)


def attach_agents(session: Session, identity_id: str, agent_ids: Iterable[str]) -> None:
    """Tie the agents to the identity; those already tied stay as they are."""
    have = set(agent_ids_of(session, identity_id))
    for agent_id in dict.fromkeys(agent_ids):
        if agent_id not in have:
            session.add(t.IdentityAgent(identity_id=identity_id, agent_id=agent_id))


def detach_agents(session: Session, identity_id: str, agent_ids: Iterable[str]) -> None:
    session.execute(
        delete(t.IdentityAgent).where(
            t.IdentityAgent.identity_id == identity_id,
            t.IdentityAgent.agent_id.in_(list(agent_ids)),
        )
    )


def attach_blocks(session: Session, identity_id: str, block_ids: Iterable[str]) -> None:
    have = set(block_ids_of(session, identity_id))
    for block_id in dict.fromkeys(block_ids):
        if block_id not in have:
            session.add(t.IdentityBlock(identity_id=identity_id, block_id=block_id))


def detach_blocks(session: Session, identity_id: str, block_ids: Iterable[str]) -> None:
    session.execute(
        delete(t.IdentityBlock).where(
            t.IdentityBlock.identity_id == identity_id,
            t.IdentityBlock.block_id.in_(list(block_ids)),
        )
    )


def set_agent_identities(session: Session, agent_id: str, identity_ids: Iterable[str]) -> None:
    """Replace the identities the agent belongs to (the agent's ``identity_ids``)."""
    session.execute(delete(t.IdentityAgent).where(t.IdentityAgent.agent_id == agent_id))
    for identity_id in dict.fromkeys(identity_ids):
        session.add(t.IdentityAgent(identity_id=identity_id, agent_id=agent_id))


# --------------------------------------------------------------------------- filters


def agents_of(identity_id: str | None, identifier_keys: tuple[str, ...]) -> Select[Any] | None:
    """Ids of the agents tied to the identity and to an identity with one of the keys (any
    project); None when neither filter is given."""
    return _owned(t.IdentityAgent.agent_id, t.IdentityAgent, identity_id, identifier_keys)


def blocks_of(identity_id: str | None, identifier_keys: tuple[str, ...]) -> Select[Any] | None:
    """As ``agents_of``, for blocks."""
    return _owned(t.IdentityBlock.block_id, t.IdentityBlock, identity_id, identifier_keys)


def _owned(
    column: Any, link: Any, identity_id: str | None, identifier_keys: tuple[str, ...]
) -> Select[Any] | None:
    if identity_id is None and not identifier_keys:
        return None
    query = select(column)
    if identity_id is not None:
        query = query.where(link.identity_id == identity_id)
    if identifier_keys:
        keyed = select(t.Identity.id).where(t.Identity.identifier_key.in_(identifier_keys))
        query = query.where(link.identity_id.in_(keyed))
    return query


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class Linked:
    """An identity with the ids of its agents and blocks: what its wire shape shows."""

    identity: t.Identity
    agent_ids: list[str]
    block_ids: list[str]


def linked(session: Session, identity: t.Identity) -> Linked:
    return Linked(identity, agent_ids_of(session, identity.id), block_ids_of(session, identity.id))
