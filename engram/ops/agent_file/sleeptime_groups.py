"""Sleep-time groups in agent files: which groups of a file an import can hold, and the
pairings it writes for them.

A group is held when it is a sleep-time group (``manager_config.manager_type:
"sleeptime"``) whose ``manager_agent_id`` names an agent of the file of a type run here
and whose ``agent_ids`` name exactly one agent of the file of type ``sleeptime_agent``:
Letta's export of an agent with ``enable_sleeptime``. The two agents are imported as any
agents are (they share their blocks through the file's block ids); the pairing is written
after them, with the file's frequency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from engram.ids import new_id
from engram.ops import sleeptime
from engram.ops.agent_file.document import AgentFile
from engram.ops.agents import AGENT_TYPES
from engram.store import messages
from engram.store import tables as t


@dataclass(frozen=True)
class FilePair:
    """One importable sleep-time group of a file, by the file's ids."""

    main: str
    sleeper: str
    frequency: int
    description: str


def importable_pairs(document: AgentFile) -> dict[int, FilePair]:
    """The file's groups an import can hold, by their index in ``groups``."""
    types = {agent.id: agent.agent_type for agent in document.agents}
    found: dict[int, FilePair] = {}
    taken: set[str] = set()
    for index, group in enumerate(document.groups):
        pair = _pair_of(group, types)
        if pair is not None and not {pair.main, pair.sleeper} & taken:
            found[index] = pair
            taken |= {pair.main, pair.sleeper}
    return found


def _pair_of(group: Any, types: dict[str, str]) -> FilePair | None:
    if not isinstance(group, dict):
        return None
    config = group.get("manager_config")
    members = group.get("agent_ids")
    if not isinstance(config, dict) or config.get("manager_type") != sleeptime.MANAGER_TYPE:
        return None
    main = str(config.get("manager_agent_id"))
    if types.get(main) not in AGENT_TYPES or not isinstance(members, list) or len(members) != 1:
        return None
    (sleeper,) = members
    if types.get(sleeper) != sleeptime.SLEEPTIME_AGENT_TYPE:
        return None
    frequency = config.get("sleeptime_agent_frequency")
    if not isinstance(frequency, int) or not 1 <= frequency <= sleeptime.MAX_FREQUENCY:
        frequency = sleeptime.DEFAULT_FREQUENCY
    description = group.get("description")
    return FilePair(str(main), str(sleeper), frequency, str(description or ""))


def write_pairs(session: Session, document: AgentFile, new_ids: dict[str, str]) -> None:
    """The pairings of the file's groups (all importable by now), between the new agents
    ``new_ids`` names by file id. The imported history is older than the pairing: the
    first sleep-time run reads only what is said after the import."""
    for pair in importable_pairs(document).values():
        main_id = new_ids[pair.main]
        session.add(
            t.Group(
                id=new_id("group"),
                manager_type=sleeptime.MANAGER_TYPE,
                manager_agent_id=main_id,
                sleeptime_agent_id=new_ids[pair.sleeper],
                description=pair.description or "sleep-time memory upkeep",
                sleeptime_agent_frequency=pair.frequency,
                turns_counter=0,
                start_seq=messages.last_seq(session, main_id),
            )
        )
    session.flush()
