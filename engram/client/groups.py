"""``client.groups``: the sleep-time groups ``enable_sleeptime`` makes (docs/sleeptime.md),
with the operations of Letta's ``/v1/groups/`` that Engram serves."""

from __future__ import annotations

import builtins
from typing import Any, Literal

from engram.api import serialize
from engram.api.group_requests import GroupUpdate
from engram.client.agent_state import Group
from engram.client.arguments import validated
from engram.client.resource import Resource
from engram.ops import groups as group_ops
from engram.ops.paging import Page

__all__ = ["AsyncGroups", "Group"]


def _group(row: Any) -> Group:
    return Group.model_validate(serialize.group(row))


class AsyncGroups(Resource):
    async def list(
        self,
        *,
        manager_type: str | None = None,
        before: str | None = None,
        after: str | None = None,
        limit: int | None = 50,
        order: Literal["asc", "desc"] = "desc",
    ) -> builtins.list[Group]:
        """The groups, newest first unless ``order="asc"``."""
        page = Page(before, after, limit, order == "desc")
        rows = await group_ops.list_groups(self._services, page, manager_type)
        return [_group(row) for row in rows]

    async def count(self) -> int:
        return await group_ops.count_groups(self._services)

    async def retrieve(self, group_id: str) -> Group:
        """NotFound for an unknown id."""
        return _group(await group_ops.retrieve_group(self._services, group_id))

    async def update(
        self,
        group_id: str,
        *,
        manager_config: dict[str, Any] | None = None,
        description: str | None = None,
        archival_upkeep: dict[str, Any] | None = None,
    ) -> Group:
        """Change how often the sleep-time agent runs
        (``manager_config={"manager_type": "sleeptime", "sleeptime_agent_frequency": n}``),
        the description, or archival upkeep; InvalidInput names a bad field."""
        body = validated(
            GroupUpdate,
            manager_config=manager_config,
            description=description,
            archival_upkeep=archival_upkeep,
        )
        return _group(await group_ops.modify_group(self._services, group_id, body.changes()))

    async def delete(self, group_id: str) -> None:
        """End the pairing: the sleep-time agent goes with the group."""
        await group_ops.delete_group(self._services, group_id)

    async def duplicates(
        self, agent_id: str, *, similarity: float | None = None, overlap: float | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Dry run of archival upkeep for ``agent_id``: what it would merge now."""
        sent = {"similarity": similarity, "overlap": overlap}
        overrides = {name: value for name, value in sent.items() if value is not None}
        return await group_ops.archival_duplicates(self._services, agent_id, overrides)
