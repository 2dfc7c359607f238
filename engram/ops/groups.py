"""Sleep-time groups (Letta's ``/v1/groups/`` for ``manager_type: "sleeptime"``): list,
retrieve, change how often the sleep-time agent runs and how archival upkeep works, delete;
and the dry run of archival upkeep. Each operation is one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.memory import dedup
from engram.ops import sleeptime
from engram.ops.agents import HasAgentCaches
from engram.ops.deps import HasDb
from engram.ops.paging import Page
from engram.store import agents
from engram.store import groups as group_rows
from engram.store import tables as t
from engram.store.pagination import page_of


@dataclass(frozen=True)
class GroupChanges:
    """What a modify changes; None leaves a field as it is."""

    sleeptime_agent_frequency: int | None = None
    description: str | None = None
    archival_upkeep: dict[str, Any] | None = None


async def list_groups(deps: HasDb, page: Page, manager_type: str | None = None) -> list[t.Group]:
    """The groups in creation order, one page; only sleep-time groups exist here."""

    def _read(session: Session) -> list[t.Group]:
        rows = group_rows.all_groups(session)
        if manager_type is not None:
            rows = [row for row in rows if row.manager_type == manager_type]
        return page_of(
            rows,
            before=page.before,
            after=page.after,
            limit=page.limit,
            descending=page.descending,
            kind="group",
        )

    return await deps.db.read(_read)


async def count_groups(deps: HasDb) -> int:
    return await deps.db.read(lambda session: len(group_rows.all_groups(session)))


async def retrieve_group(deps: HasDb, group_id: str) -> t.Group:
    """NotFound for an unknown id."""
    return await deps.db.read(lambda session: group_rows.get(session, group_id))


async def groups_of_agent(deps: HasDb, agent_id: str) -> list[t.Group]:
    """The groups ``agent_id`` is in (as main or sleep-time agent); NotFound for an
    unknown agent."""

    def _read(session: Session) -> list[t.Group]:
        agents.get(session, agent_id)
        found = group_rows.of_agent(session, agent_id)
        return [found] if found is not None else []

    return await deps.db.read(_read)


def check_frequency(value: int) -> None:
    if isinstance(value, bool) or not 1 <= value <= sleeptime.MAX_FREQUENCY:
        raise InvalidInput(
            "sleeptime_agent_frequency",
            f"must be a whole number of turns from 1 to {sleeptime.MAX_FREQUENCY}, got {value}",
        )


async def modify_group(deps: HasDb, group_id: str, changes: GroupChanges) -> t.Group:
    """Apply ``changes``; InvalidInput names a bad field, NotFound an unknown group, and
    nothing is written then."""
    if changes.sleeptime_agent_frequency is not None:
        check_frequency(changes.sleeptime_agent_frequency)

    def _write(session: Session) -> t.Group:
        group = group_rows.get(session, group_id)
        if changes.archival_upkeep is not None:
            current = dedup.UpkeepSettings.of(group.archival_upkeep)
            group.archival_upkeep = dedup.upkeep_settings(
                vars(current.changed(changes.archival_upkeep))
            )
        if changes.sleeptime_agent_frequency is not None:
            group.sleeptime_agent_frequency = changes.sleeptime_agent_frequency
        if changes.description is not None:
            group.description = changes.description
        session.flush()
        return group

    return await deps.db.write(_write)


async def delete_group(deps: HasAgentCaches, group_id: str) -> None:
    """End the pairing as ``enable_sleeptime: false`` does: the sleep-time agent goes with
    the group; the main agent and the blocks it shared stay."""

    def _write(session: Session) -> str | None:
        group = group_rows.get(session, group_id)
        return sleeptime.unpair(session, group.manager_agent_id)

    gone = await deps.db.write(_write)
    if gone is not None:
        deps.vectors.forget(gone)
        deps.windows.forget(gone)


async def archival_duplicates(
    deps: HasDb, agent_id: str, overrides: dict[str, Any]
) -> list[dict[str, Any]]:
    """Dry run of archival upkeep: the groups of near-duplicate passages it would merge,
    with the agent's group's settings (or the defaults) and ``overrides``; nothing changes."""

    def _read(session: Session) -> list[dict[str, Any]]:
        agents.get(session, agent_id)
        group = group_rows.of_main_agent(session, agent_id)
        settings = dedup.UpkeepSettings.of(group.archival_upkeep if group else None)
        settings = settings.changed(overrides)
        found, texts = dedup.find_duplicates(session, agent_id, settings)
        return [item.view(texts) for item in found]

    return await deps.db.read(_read)
