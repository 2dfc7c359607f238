"""Pairing a main agent with a sleep-time agent (Letta's ``enable_sleeptime``).

The sleep-time agent is an agent of its own: it shares the main agent's core memory blocks
(the same rows, so an edit it makes is the main agent's next prompt), searches the same
archives, and has only the memory-editing tools. The ``groups`` row says which two agents
are paired and how often the sleep-time agent runs (runtime/sleeptime.py queues its runs).
These helpers run inside the caller's transaction: create and update of an agent."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engram.ids import new_id
from engram.store import agents, archives, blocks, messages, tools
from engram.store import groups as group_rows
from engram.store import tables as t

SLEEPTIME_AGENT_TYPE = "sleeptime_agent"
MANAGER_TYPE = "sleeptime"
DEFAULT_FREQUENCY = 5
"""Letta's default: a sleep-time run after every fifth completed turn of the main agent."""
MAX_FREQUENCY = 10_000

SLEEPTIME_TOOLS = ["memory_replace", "memory_insert", "memory_rethink", "memory_finish_edits"]
MAIN_AGENT_TOOLS = ["conversation_search", "archival_memory_search"]
"""A main agent created with sleep-time keeps searching memory but leaves editing it to its
sleep-time agent, as Letta's does (send_message is added for heartbeat agent types)."""

SLEEPTIME_RULES = [{"type": "exit_loop", "tool_name": "memory_finish_edits"}]

SLEEPTIME_SYSTEM = (
    "You look after the memory of another agent while it is not talking. Each time you "
    "wake you are shown the part of its conversation that happened since you last looked. "
    "You are not in that conversation and nobody reads what you write in reply: your only "
    "output is the memory blocks you share with the other agent. Read the conversation, "
    "then keep the blocks accurate and useful to it: add lasting facts about the user and "
    "their goals, correct what the conversation showed to be wrong or outdated, remove "
    "repetition, and keep each block well ordered and within its limit. Use memory_insert "
    "and memory_replace for small changes and memory_rethink to rewrite a block that needs "
    "reorganising. Leave alone what the conversation gave no reason to change. When the "
    "blocks are right, call memory_finish_edits."
)

SLEEPTIME_PERSONA = (
    "I keep the shared memory tidy between conversations. I record what matters about the "
    "user and the work, I merge and correct rather than pile up notes, and I never invent "
    "facts the conversation did not give."
)

MAIN_SYSTEM_NOTE = (
    " Your memory blocks are kept up to date in the background by a memory agent that "
    "reads your conversations after they happen, so you need not edit them yourself."
)


def pair(session: Session, main: t.Agent, frequency: int = DEFAULT_FREQUENCY) -> t.Group:
    """Create the sleep-time agent and the group for ``main``; an agent already paired
    keeps its pairing (returned as it is)."""
    existing = group_rows.of_main_agent(session, main.id)
    if existing is not None:
        return existing
    sleeper = _sleeptime_agent(main)
    session.add(sleeper)
    persona = blocks.new_block(label="memory_persona", value=SLEEPTIME_PERSONA)
    session.add(persona)
    session.flush()
    for block in [*blocks.for_agent(session, main.id), persona]:
        blocks.attach(session, sleeper.id, block)
    found = tools.by_names(session, SLEEPTIME_TOOLS)
    tools.attach(session, sleeper.id, [found[name].id for name in SLEEPTIME_TOOLS])
    for archive in archives.for_agent(session, main.id):
        archives.attach(session, sleeper, archive)
    group = t.Group(
        id=new_id("group"),
        manager_type=MANAGER_TYPE,
        manager_agent_id=main.id,
        sleeptime_agent_id=sleeper.id,
        description=f"sleep-time memory upkeep for {main.name}",
        sleeptime_agent_frequency=frequency,
        turns_counter=0,
        # What the main agent said before the pairing is not sent to the sleep-time agent.
        start_seq=messages.last_seq(session, main.id),
    )
    session.add(group)
    session.flush()
    return group


def unpair(session: Session, main_id: str) -> str | None:
    """Delete ``main_id``'s sleep-time agent (its own blocks with it; the shared ones
    stay) and so its group; returns the deleted agent's id, None when it had none."""
    group = group_rows.of_main_agent(session, main_id)
    if group is None:
        return None
    sleeper_id = group.sleeptime_agent_id
    session.delete(group)
    blocks.delete_unshared_of_agent(session, sleeper_id)
    session.delete(agents.get(session, sleeper_id))
    session.flush()
    return sleeper_id


def _sleeptime_agent(main: t.Agent) -> t.Agent:
    agent_id = new_id("agent")
    return t.Agent(
        id=agent_id,
        name=f"{main.name}-sleeptime"[:255],
        system=SLEEPTIME_SYSTEM,
        agent_type=SLEEPTIME_AGENT_TYPE,
        description=f"Sleep-time memory agent of {main.id}",
        metadata_={},
        llm_config=dict(main.llm_config),
        embedding_config=dict(main.embedding_config),
        context_window_limit=main.context_window_limit,
        tool_rules=list(SLEEPTIME_RULES),
        window_start_seq=0,
        summary="",
        summary_tokens=0,
    )


SHARED_LINKS = frozenset({"block", "archive"})
"""What the sleep-time agent follows its main agent in: blocks and archives attached to
(or detached from) the main agent are attached to (or detached from) it too."""


def follower_of(session: Session, agent_id: str) -> t.Agent | None:
    """The sleep-time agent of ``agent_id``, when it is a main agent."""
    group = group_rows.of_main_agent(session, agent_id)
    return agents.get(session, group.sleeptime_agent_id) if group is not None else None
