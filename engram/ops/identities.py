"""Identities: the users, organisations or other parties an integration serves, each named by
the integration's own ``identifier_key``, and the agents and blocks that belong to each.
Every operation is one transaction. Tying an agent to an identity from the agent's side is
``engram.ops.links``; an agent's ``identity_ids`` are set by ``engram.ops.agents``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from engram.ops.agents import AgentBundle, bundle
from engram.ops.deps import HasDb
from engram.ops.paging import Page
from engram.store import agents, blocks, identities
from engram.store import tables as t
from engram.store.identities import Linked

__all__ = ["IdentityChanges", "IdentityQuery", "IdentitySpec", "Linked"]


@dataclass(frozen=True)
class IdentitySpec:
    """A new identity, or the whole of one an upsert writes. ``properties`` are checked
    already: ``[{"key", "value", "type"}]`` with unique keys."""

    identifier_key: str
    name: str
    identity_type: str
    project_id: str | None = None
    agent_ids: list[str] | None = None
    block_ids: list[str] | None = None
    properties: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class IdentityChanges:
    """What a modification sets; None leaves a field as it is. Agents and blocks named are
    added to those the identity has; properties are merged by key."""

    identifier_key: str | None = None
    name: str | None = None
    identity_type: str | None = None
    agent_ids: list[str] | None = None
    block_ids: list[str] | None = None
    properties: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class IdentityQuery:
    """Which identities a listing shows and in what order."""

    name: str | None = None
    project_id: str | None = None
    identifier_key: str | None = None
    identity_type: str | None = None
    page: Page = field(default_factory=lambda: Page(limit=50, descending=True))


async def create(deps: HasDb, spec: IdentitySpec) -> Linked:
    """A new identity with its agents and blocks. Conflict naming ``identifier_key`` when
    the project has an identity with that key already; NotFound for an agent or block id
    that names nothing. Nothing is written then."""

    def _write(session: Session) -> Linked:
        return identities.linked(session, _add(session, spec))

    return await deps.db.write(_write)


def _add(session: Session, spec: IdentitySpec) -> t.Identity:
    _check_exist(session, spec.agent_ids, spec.block_ids)
    row = identities.add(
        session,
        identifier_key=spec.identifier_key,
        name=spec.name,
        identity_type=spec.identity_type,
        project_id=spec.project_id,
        properties=spec.properties or [],
    )
    identities.attach_agents(session, row.id, spec.agent_ids or [])
    identities.attach_blocks(session, row.id, spec.block_ids or [])
    session.flush()
    return row


async def upsert(deps: HasDb, spec: IdentitySpec) -> Linked:
    """Create the identity, or replace the one with the same key in the same project: its
    name and type, and its properties, agents and blocks where the spec gives them."""

    def _write(session: Session) -> Linked:
        row = identities.by_key(session, spec.identifier_key, spec.project_id)
        if row is None:
            return identities.linked(session, _add(session, spec))
        _check_exist(session, spec.agent_ids, spec.block_ids)
        row.name = spec.name
        row.identity_type = spec.identity_type
        if spec.properties is not None:
            row.properties = spec.properties
        if spec.agent_ids is not None:
            identities.detach_agents(session, row.id, identities.agent_ids_of(session, row.id))
            identities.attach_agents(session, row.id, spec.agent_ids)
        if spec.block_ids is not None:
            identities.detach_blocks(session, row.id, identities.block_ids_of(session, row.id))
            identities.attach_blocks(session, row.id, spec.block_ids)
        session.flush()
        return identities.linked(session, row)

    return await deps.db.write(_write)


async def list_identities(deps: HasDb, query: IdentityQuery) -> list[Linked]:
    def _read(session: Session) -> list[Linked]:
        rows = identities.list_identities(
            session,
            name=query.name,
            project_id=query.project_id,
            identifier_key=query.identifier_key,
            identity_type=query.identity_type,
            before=query.page.before,
            after=query.page.after,
            limit=query.page.limit,
            descending=query.page.descending,
        )
        return [identities.linked(session, row) for row in rows]

    return await deps.db.read(_read)


async def count(deps: HasDb) -> int:
    return await deps.db.read(identities.count)


async def retrieve(deps: HasDb, identity_id: str) -> Linked:
    def _read(session: Session) -> Linked:
        return identities.linked(session, identities.get(session, identity_id))

    return await deps.db.read(_read)


async def modify(deps: HasDb, identity_id: str, changes: IdentityChanges) -> Linked:
    """Apply ``changes``; NotFound for an unknown identity, agent or block, Conflict naming
    ``identifier_key`` for a key another identity of the project has."""

    def _write(session: Session) -> Linked:
        row = identities.get(session, identity_id)
        _check_exist(session, changes.agent_ids, changes.block_ids)
        project_id = row.project_key or None
        if changes.identifier_key is not None:
            identities.check_key_free(
                session, changes.identifier_key, project_id, other_than=row.id
            )
            row.identifier_key = changes.identifier_key
        if changes.name is not None:
            row.name = changes.name
        if changes.identity_type is not None:
            row.identity_type = changes.identity_type
        if changes.properties is not None:
            row.properties = merge_properties(row.properties or [], changes.properties)
        identities.attach_agents(session, row.id, changes.agent_ids or [])
        identities.attach_blocks(session, row.id, changes.block_ids or [])
        identities.flush_unique(session, row.identifier_key, project_id)
        return identities.linked(session, row)

    return await deps.db.write(_write)


def merge_properties(
    current: list[dict[str, Any]], given: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``given`` over ``current`` by key: a key given replaces the old property in place,
    new keys come after the old ones."""
    merged = {prop["key"]: prop for prop in current}
    merged.update({prop["key"]: prop for prop in given})
    return list(merged.values())


async def replace_properties(
    deps: HasDb, identity_id: str, properties: list[dict[str, Any]]
) -> Linked:
    """The identity's properties become exactly ``properties``."""

    def _write(session: Session) -> Linked:
        row = identities.get(session, identity_id)
        row.properties = properties
        session.flush()
        return identities.linked(session, row)

    return await deps.db.write(_write)


async def delete(deps: HasDb, identity_id: str) -> None:
    """Delete the identity; its agents and blocks stay, tied to it no more."""

    def _write(session: Session) -> None:
        session.delete(identities.get(session, identity_id))

    await deps.db.write(_write)


async def list_agents(deps: HasDb, identity_id: str, page: Page) -> list[AgentBundle]:
    """The identity's agents, newest first unless ascending; NotFound for an unknown id."""

    def _read(session: Session) -> list[AgentBundle]:
        identities.get(session, identity_id)
        where = agents.AgentFilter(identity_id=identity_id)
        rows = agents.list_agents(
            session,
            where,
            before=page.before,
            after=page.after,
            limit=page.limit,
            descending=page.descending,
        )
        return [bundle(session, row.id) for row in rows]

    return await deps.db.read(_read)


async def list_blocks(deps: HasDb, identity_id: str, page: Page) -> list[t.Block]:
    """The identity's blocks, newest first unless ascending; NotFound for an unknown id."""

    def _read(session: Session) -> list[t.Block]:
        identities.get(session, identity_id)
        return blocks.list_blocks(
            session,
            label=None,
            identity_id=identity_id,
            before=page.before,
            after=page.after,
            limit=page.limit,
            descending=page.descending,
        )

    return await deps.db.read(_read)


async def attach_block(deps: HasDb, block_id: str, identity_id: str) -> t.Block:
    """Tie the block to the identity (idempotent); the block."""

    def _write(session: Session) -> t.Block:
        block = blocks.get(session, block_id)
        identities.get(session, identity_id)
        identities.attach_blocks(session, identity_id, [block_id])
        session.flush()
        return block

    return await deps.db.write(_write)


async def detach_block(deps: HasDb, block_id: str, identity_id: str) -> t.Block:
    """Untie the block from the identity (idempotent); the block."""

    def _write(session: Session) -> t.Block:
        block = blocks.get(session, block_id)
        identities.get(session, identity_id)
        identities.detach_blocks(session, identity_id, [block_id])
        session.flush()
        return block

    return await deps.db.write(_write)


def _check_exist(
    session: Session, agent_ids: list[str] | None, block_ids: list[str] | None
) -> None:
    for agent_id in agent_ids or []:
        agents.get(session, agent_id)
    for block_id in block_ids or []:
        blocks.get(session, block_id)
