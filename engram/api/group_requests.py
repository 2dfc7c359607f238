"""Request bodies of the group operations: Letta's ``GroupUpdate`` as far as a sleep-time
group can change, plus Engram's ``archival_upkeep`` (docs/sleeptime.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engram.api.schemas import Body
from engram.ops.groups import GroupChanges
from engram.ops.sleeptime import MAX_FREQUENCY


class SleeptimeManagerUpdate(Body):
    manager_type: Literal["sleeptime"] = "sleeptime"
    manager_agent_id: str | None = None
    sleeptime_agent_frequency: int | None = Field(default=None, ge=1, le=MAX_FREQUENCY)


class UpkeepUpdate(Body):
    enabled: bool | None = None
    similarity: float | None = Field(default=None, ge=0.5, le=1.0)
    overlap: float | None = Field(default=None, ge=0.5, le=1.0)
    mode: Literal["merge", "mark"] | None = None


class GroupUpdate(Body):
    description: str | None = Field(default=None, max_length=10_000)
    manager_config: SleeptimeManagerUpdate | None = None
    archival_upkeep: UpkeepUpdate | None = None
    # Fixed for a sleep-time group: the pairing decides its members. Accepted as Letta's
    # own schema has them, refused when sent with a value (see routes/groups.py).
    agent_ids: list[str] | None = None
    shared_block_ids: list[str] | None = None
    project_id: str | None = None

    def changes(self) -> GroupChanges:
        upkeep: dict[str, Any] | None = None
        if self.archival_upkeep is not None:
            upkeep = self.archival_upkeep.model_dump(exclude_none=True)
        manager = self.manager_config
        return GroupChanges(
            sleeptime_agent_frequency=manager.sleeptime_agent_frequency if manager else None,
            description=self.description,
            archival_upkeep=upkeep,
        )
