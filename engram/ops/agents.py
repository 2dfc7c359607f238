"""Agents: create, list, count, retrieve, update and delete them, each operation one
transaction. (The context window overview is ``agent_context``; tool approval settings are
``agent_tools``.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.errors import Conflict, InvalidInput
from engram.ids import new_id
from engram.llm import model_settings
from engram.memory import directories, policy
from engram.memory.directories import Directories
from engram.memory.tools import MEMORY_TOOL_NAMES
from engram.ops import initial_messages, sleeptime
from engram.ops.agent_inputs import AgentChanges, AgentSpec, BlockSpec, Cursor
from engram.ops.deps import HasDb, HasModels, HasSettings
from engram.ops.file_tools import sync_file_tools
from engram.runtime import approvals
from engram.runtime.context import HEARTBEAT_AGENTS, window_size
from engram.runtime.input_fit import fixed_prompt_tokens
from engram.runtime.tool_rules import check_rules
from engram.store import (
    agents,
    archives,
    blocks,
    conversations,
    file_views,
    folders,
    identities,
    messages,
    passages,
    tools,
)
from engram.store import groups as group_rows
from engram.store import tables as t
from engram.store.agents import AgentFilter, AgentOrder
from engram.store.identities import Linked

if TYPE_CHECKING:
    from engram.memory.embeddings import EmbeddingRegistry
    from engram.runtime.window import WindowCache
    from engram.store.vectors import VectorIndex

# The inputs of these operations, importable from here with them; AgentFilter is the list
# and count filter, for callers that may not import the store.
__all__ = ["AgentChanges", "AgentFilter", "AgentOrder", "AgentSpec", "BlockSpec", "Cursor"]


class HasAgentModels(HasModels, Protocol):
    """Resolves model and embedding handles: creating or changing an agent."""

    @property
    def embeddings(self) -> EmbeddingRegistry: ...


class HasAgentCaches(HasDb, Protocol):
    """Drops what the process caches about an agent: deleting it."""

    @property
    def windows(self) -> WindowCache: ...

    @property
    def vectors(self) -> VectorIndex: ...


AGENT_TYPES = {"letta_v1_agent", "memgpt_v2_agent", "memgpt_agent"}

DEFAULT_SYSTEM = (
    "You are a helpful assistant with a long-term memory. Your core memory blocks are "
    "always in view; keep them current with your memory tools when you learn something "
    "lasting about the user or yourself. Save details worth keeping to archival memory and "
    "search it, and the past conversation, when a question needs them."
)
DEFAULT_SYSTEM_HEARTBEAT = (
    DEFAULT_SYSTEM + " Answer the user only through the send_message tool; set "
    "request_heartbeat to true on other tools when you need another step afterwards."
)


@dataclass
class AgentBundle:
    """An agent with everything its wire representation shows."""

    agent: t.Agent
    blocks: list[t.Block]
    tools: list[t.Tool]
    tags: list[str]
    message_ids: list[str]
    # The approval request the agent waits on, as Letta's ApprovalRequestMessage.
    pending_approval: dict[str, Any] | None = None
    # The identities the agent belongs to (engram.ops.identities).
    identities: list[Linked] = field(default_factory=list)
    # Its attached folders (Letta's "sources").
    folders: list[t.Folder] = field(default_factory=list)
    # Its views of their files, as its prompt shows them (Letta's memory.file_blocks).
    directories: Directories | None = None
    # Its sleep-time pairing, when it is the main agent of one (ops/sleeptime.py).
    group: t.Group | None = None


def bundle(session: Session, agent_id: str) -> AgentBundle:
    agent = agents.get(session, agent_id)
    window = messages.in_context(session, agent)
    attached = folders.for_agent(session, agent_id)
    return AgentBundle(
        agent=agent,
        blocks=blocks.for_agent(session, agent_id),
        tools=tools.for_agent(session, agent_id),
        tags=agents.tags_of(session, agent_id),
        message_ids=[message.id for message in window],
        pending_approval=_pending_view(session, agent_id),
        identities=[
            identities.linked(session, row) for row in identities.for_agent(session, agent_id)
        ],
        folders=attached,
        directories=directories.load(session, agent) if attached else None,
        group=group_rows.of_main_agent(session, agent_id),
    )


def _pending_view(session: Session, agent_id: str) -> dict[str, Any] | None:
    found = approvals.pending(session, agent_id)
    return approvals.request_view(found) if found is not None else None


def base_tool_names(agent_type: str) -> list[str]:
    names = list(MEMORY_TOOL_NAMES)
    if agent_type in HEARTBEAT_AGENTS:
        names.append("send_message")
    return names


async def _llm_config(deps: HasModels, spec: AgentSpec) -> dict[str, Any]:
    if spec.llm_config is not None:
        config = dict(spec.llm_config)
        if spec.model and not config.get("handle"):
            config["handle"] = spec.model
        return config
    if spec.model is None:
        raise InvalidInput(
            "model", "name a model handle such as 'openai/gpt-4o-mini' (see GET /v1/models/)"
        )
    return await deps.providers.llm_config_for(spec.model)


def _reasoning_switches(llm_config: dict[str, Any], spec: AgentSpec) -> dict[str, Any]:
    """Letta's ``max_reasoning_tokens`` and ``enable_reasoner``, written in."""
    if spec.max_reasoning_tokens is not None:
        llm_config["max_reasoning_tokens"] = spec.max_reasoning_tokens
        llm_config["enable_reasoner"] = spec.enable_reasoner is not False
    elif spec.enable_reasoner is not None:
        llm_config["enable_reasoner"] = spec.enable_reasoner
    return llm_config


def _check_window(limit: int | None) -> None:
    if limit is not None and limit < 256:
        raise InvalidInput("context_window_limit", f"must be at least 256 tokens, got {limit}")


async def create_agent(deps: HasAgentModels, spec: AgentSpec) -> AgentBundle:
    """Validate everything first, then write the agent, its blocks and links at once.

    Raises InvalidInput naming the field for a bad type, model, rule or window, and
    NotFound for a block or tool id that names nothing; nothing is written then."""
    if spec.agent_type not in AGENT_TYPES:
        raise InvalidInput("agent_type", f"'{spec.agent_type}' is not one of {sorted(AGENT_TYPES)}")
    _check_window(spec.context_window_limit)
    if spec.compaction_settings is not None:
        policy.check_compaction(spec.compaction_settings, deps.settings)
    check_rules(spec.tool_rules or [])
    llm_config = await _llm_config(deps, spec)
    llm_config["tool_call_format"] = spec.tool_call_format or llm_config.get(
        "tool_call_format", "native"
    )
    llm_config = _reasoning_switches(llm_config, spec)
    if spec.context_window_limit:
        llm_config["context_window"] = spec.context_window_limit
    llm_config = _with_settings(llm_config, spec.model_settings, spec.setting_shortcuts)
    if spec.reasoning is not None:  # the switch wins over the settings it overlaps
        llm_config = model_settings.with_reasoning(llm_config, spec.reasoning)
    if spec.embedding_config is not None:
        embedding_config = await deps.embeddings.check_config(spec.embedding_config)
    else:
        embedding_config = await deps.embeddings.config_for(spec.embedding)
    if spec.embedding_chunk_size is not None:
        embedding_config = {**embedding_config, "embedding_chunk_size": spec.embedding_chunk_size}
    new_blocks = [blocks.new_block(**vars(block)) for block in spec.memory_blocks]
    labels = [block.label for block in new_blocks]
    if len(labels) != len(set(labels)):
        raise InvalidInput("memory_blocks", "two blocks share a label; labels must be unique")
    agent_id = new_id("agent")

    def _write(session: Session) -> AgentBundle:
        attached = [*new_blocks, *[blocks.get(session, bid) for bid in spec.block_ids]]
        tool_rows = _resolve_tools(session, spec)
        session.add(
            t.Agent(
                id=agent_id,
                name=spec.name or f"agent-{agent_id[6:14]}",
                system=spec.system if spec.system is not None else _system_of(spec),
                agent_type=spec.agent_type,
                description=spec.description,
                metadata_=spec.metadata or {},
                llm_config=llm_config,
                embedding_config=embedding_config,
                context_window_limit=spec.context_window_limit,
                tool_rules=spec.tool_rules or [],
                compaction_settings=spec.compaction_settings,
                recall_assist=spec.recall_assist,
                max_files_open=spec.max_files_open,
                per_file_view_window_char_limit=spec.per_file_view_window_char_limit,
                tool_env=spec.tool_env or None,
                window_start_seq=0,
                summary="",
                summary_tokens=0,
                timezone=spec.timezone,
                message_buffer_autoclear=spec.message_buffer_autoclear,
                initial_messages=initial_messages.kept(spec.initial_messages),
            )
        )
        session.add_all(new_blocks)
        session.flush()
        for block in attached:
            blocks.attach(session, agent_id, block)
        tools.attach(session, agent_id, [tool.id for tool in tool_rows])
        agents.set_tags(session, agent_id, spec.tags)
        _set_identities(session, agent_id, spec.identity_ids)
        folder_ids = list(spec.folder_ids)
        if spec.include_default_source:
            folder_ids.append(_default_folder(session, agent_id, spec, embedding_config))
        _set_folders(session, agent_id, folder_ids)
        session.flush()
        check_fixed_part_fits(deps, session, agent_id)
        agent = agents.get(session, agent_id)
        if spec.enable_sleeptime:
            sleeptime.pair(session, agent)
        initial_messages.add(
            session, agent, window_size(agent) - fixed_prompt_tokens(session, agent)
        )
        session.flush()
        return bundle(session, agent_id)

    return await deps.db.write(_write)


def _system_of(spec: AgentSpec) -> str:
    """The default system prompt; a main agent with sleep-time is told who edits its memory."""
    text = default_system(spec.agent_type)
    return text + sleeptime.MAIN_SYSTEM_NOTE if spec.enable_sleeptime else text


def _default_folder(
    session: Session, agent_id: str, spec: AgentSpec, embedding_config: dict[str, Any]
) -> str:
    """A new, empty folder for the agent (Letta's default source): named after it, embedding
    with its model in chunks of ``embedding_chunk_size`` tokens (default 300)."""
    base = f"{spec.name or agent_id}-default"
    name = base if folders.name_free(session, base) else f"{base}-{agent_id[6:14]}"
    folder = folders.new_folder(
        session,
        name=name,
        embedding_config=embedding_config,
        description=f"files of agent {agent_id}",
        instructions=None,
        metadata=None,
        chunk_tokens=spec.embedding_chunk_size,
    )
    return folder.id


def _with_settings(
    llm_config: dict[str, Any], settings: dict[str, Any] | None, shortcuts: dict[str, Any]
) -> dict[str, Any]:
    """The config with Letta's agent-level shortcuts, then its ``model_settings``, written
    in (a shortcut sent as null changes nothing); InvalidInput names a setting that cannot
    be honoured."""
    sent = {name: value for name, value in shortcuts.items() if value is not None}
    config = model_settings.apply_shortcuts(llm_config, sent)
    if settings is not None:
        config = model_settings.apply_settings(config, settings)
    return config


def default_system(agent_type: str) -> str:
    return DEFAULT_SYSTEM_HEARTBEAT if agent_type in HEARTBEAT_AGENTS else DEFAULT_SYSTEM


def _resolve_tools(session: Session, spec: AgentSpec) -> list[t.Tool]:
    names = list(spec.tools)
    if spec.include_base_tools and spec.enable_sleeptime:
        base = list(sleeptime.MAIN_AGENT_TOOLS)
        names = [*base, *(["send_message"] if spec.agent_type in HEARTBEAT_AGENTS else []), *names]
    elif spec.include_base_tools:
        names = [*base_tool_names(spec.agent_type), *names]
    found = tools.by_names(session, names)
    unknown = [name for name in names if name not in found]
    if unknown:
        raise InvalidInput("tools", f"unknown tool name(s): {', '.join(unknown)}")
    rows = [found[name] for name in dict.fromkeys(names)]
    rows += [tools.get(session, tool_id) for tool_id in spec.tool_ids]
    return rows


async def list_agents(
    deps: HasDb, where: AgentFilter, cursor: Cursor, *, order_by: AgentOrder = "created_at"
) -> list[AgentBundle]:
    """The agents ``where`` selects, ordered by creation, last update or the end of their
    last run, one page."""

    def _read(session: Session) -> list[AgentBundle]:
        _check_identity(session, where)
        rows = agents.list_agents(
            session,
            where,
            before=cursor.before,
            after=cursor.after,
            limit=cursor.limit,
            descending=cursor.descending,
            order_by=order_by,
        )
        return [bundle(session, row.id) for row in rows]

    return await deps.db.read(_read)


async def count_agents(deps: HasDb, where: AgentFilter) -> int:
    """How many agents ``where`` selects."""

    def _read(session: Session) -> int:
        _check_identity(session, where)
        return agents.count_agents(session, where)

    return await deps.db.read(_read)


def _check_identity(session: Session, where: AgentFilter) -> None:
    """Filtering by an identity that does not exist is a NotFound, not an empty page."""
    if where.identity_id is not None:
        identities.get(session, where.identity_id)


async def retrieve_agent(deps: HasDb, agent_id: str) -> AgentBundle:
    """The agent with its blocks, tools and window; NotFound for an unknown id."""
    return await deps.db.read(lambda session: bundle(session, agent_id))


async def update_agent(deps: HasAgentModels, agent_id: str, changes: AgentChanges) -> AgentBundle:
    """Apply the fields the client sent; everything is checked before anything is written.

    Raises NotFound for an unknown agent, block or tool id, InvalidInput naming the field
    for a bad value, and Conflict for an embedding change over existing passages."""
    llm_config = None
    if changes.llm_config is not None:
        llm_config = dict(changes.llm_config)
    elif changes.model is not None:
        llm_config = await deps.providers.llm_config_for(changes.model)
    embedding_config = None
    if changes.embedding_config is not None:
        embedding_config = await deps.embeddings.check_config(changes.embedding_config)
    elif changes.embedding is not None:
        embedding_config = await deps.embeddings.config_for(changes.embedding)
    _check_window(changes.context_window_limit)
    if changes.compaction_settings is not None:
        policy.check_compaction(changes.compaction_settings, deps.settings)
    check_rules(changes.tool_rules or [])

    def _write(session: Session) -> AgentBundle:
        agent = agents.get(session, agent_id)
        _set_plain_fields(agent, changes)
        _set_model(agent, changes, llm_config)
        shortcuts = {name: getattr(changes, name) for name in model_settings.SHORTCUTS}
        if changes.model_settings is not None or any(v is not None for v in shortcuts.values()):
            agent.llm_config = _with_settings(agent.llm_config, changes.model_settings, shortcuts)
        if changes.reasoning is not None:
            agent.llm_config = model_settings.with_reasoning(agent.llm_config, changes.reasoning)
        if embedding_config is not None and embedding_config != agent.embedding_config:
            _set_embedding(session, agent, embedding_config)
        if changes.context_window_limit is not None:
            agent.context_window_limit = changes.context_window_limit
            agent.llm_config = {**agent.llm_config, "context_window": agent.context_window_limit}
        _set_links(session, agent, changes)
        session.flush()
        check_fixed_part_fits(deps, session, agent_id)
        _set_sleeptime(session, agent, changes.enable_sleeptime)
        return bundle(session, agent_id)

    return await deps.db.write(_write)


def _set_sleeptime(session: Session, agent: t.Agent, enabled: bool | None) -> None:
    """``true`` pairs the agent (kept if it is paired already), ``false`` removes the
    pairing; a sleep-time agent itself cannot be paired."""
    if enabled and agent.agent_type == sleeptime.SLEEPTIME_AGENT_TYPE:
        raise InvalidInput("enable_sleeptime", "a sleep-time agent cannot have one of its own")
    if enabled:
        sleeptime.pair(session, agent)
    elif enabled is False:
        sleeptime.unpair(session, agent.id)


def _set_links(session: Session, agent: t.Agent, changes: AgentChanges) -> None:
    """The agent's tags, blocks, tools, identities, folders and window, where sent."""
    agent_id = agent.id
    if changes.tags is not None:
        agents.set_tags(session, agent_id, changes.tags)
    if changes.block_ids is not None:
        _replace_blocks(session, agent_id, changes.block_ids)
    if changes.tool_ids is not None:
        _replace_tools(session, agent_id, changes.tool_ids)
    if changes.identity_ids is not None:
        _set_identities(session, agent_id, changes.identity_ids)
    if changes.folder_ids is not None:
        _set_folders(session, agent_id, changes.folder_ids)
    if changes.message_ids is not None:
        _set_window(session, agent, changes.message_ids)


def _set_plain_fields(agent: t.Agent, changes: AgentChanges) -> None:
    """The fields stored as sent; null leaves them as they are, except the two below."""
    for name in (
        "name",
        "system",
        "description",
        "tool_rules",
        "max_files_open",
        "per_file_view_window_char_limit",
        "timezone",
        "message_buffer_autoclear",
        "last_run_completion",
        "last_run_duration_ms",
        "last_stop_reason",
    ):
        if getattr(changes, name) is not None:
            setattr(agent, name, getattr(changes, name))
    if changes.metadata is not None:
        agent.metadata_ = changes.metadata
    _set_tool_env(agent, changes)
    # These two may be set to null: the agent goes back to the server's defaults.
    if changes.sent("compaction_settings"):
        agent.compaction_settings = changes.compaction_settings
    if changes.sent("recall_assist"):
        agent.recall_assist = changes.recall_assist


def _set_model(agent: t.Agent, changes: AgentChanges, llm_config: dict[str, Any] | None) -> None:
    if llm_config is not None:
        # A new model keeps the agent's tool call format unless the change names one.
        current = agent.llm_config.get("tool_call_format", "native")
        agent.llm_config = {"tool_call_format": current, **llm_config}
    if changes.tool_call_format is not None:
        agent.llm_config = {**agent.llm_config, "tool_call_format": changes.tool_call_format}


def _set_embedding(session: Session, agent: t.Agent, embedding_config: dict[str, Any]) -> None:
    if passages.count(session, agent.id):
        raise Conflict(
            f"agent '{agent.id}' has archival passages embedded with "
            f"'{agent.embedding_config.get('handle')}'; its embedding model cannot change"
        )
    agent.embedding_config = embedding_config
    # Attached archives must keep matching the model the agent searches with.
    for archive in archives.for_agent(session, agent.id):
        archives.check_same_embedding(agent, archive)


def _set_tool_env(agent: t.Agent, changes: AgentChanges) -> None:
    """Letta's ``tool_exec_environment_variables`` and ``secrets`` each replace what they
    name; both end up in the one mapping the sandbox hands a tool's child."""
    if changes.tool_exec_environment_variables is None and changes.secrets is None:
        return
    declared = {**(changes.tool_exec_environment_variables or {}), **(changes.secrets or {})}
    agent.tool_env = declared or None


def check_fixed_part_fits(deps: HasSettings, session: Session, agent_id: str) -> None:
    """Refuse a window too small for the prompt's fixed part, which paging cannot shrink."""
    agent = agents.get(session, agent_id)
    fixed = fixed_prompt_tokens(session, agent)
    limit = window_size(agent)
    room = deps.settings.summarize_target * limit
    if fixed > room:
        needed = int(fixed / deps.settings.summarize_target) + 1
        raise InvalidInput(
            "context_window_limit",
            f"a window of {limit:,} tokens is too small: the system prompt, memory blocks and "
            f"tool schemas alone take {fixed:,} tokens; use at least {needed:,}",
        )


def _set_window(session: Session, agent: t.Agent, message_ids: list[str]) -> None:
    """The window holds exactly ``message_ids``, which must be the latest messages of the
    agent's history, oldest first (its ``message_ids``, or the newest of them): Engram's
    window is a cursor into the history, not a free list."""
    newest = list(
        session.scalars(
            select(t.Message)
            .where(t.Message.agent_id == agent.id)
            .order_by(t.Message.seq.desc())
            .limit(len(message_ids))
        )
    )
    tail = list(reversed(newest)) if message_ids else []
    if [row.id for row in tail] != message_ids:
        raise InvalidInput(
            "message_ids",
            "the window is the latest messages of the agent's history, oldest first: send "
            "the ids of its newest messages in order (the agent's message_ids, or the newest "
            "of them; [] empties the window)",
        )
    agent.window_start_seq = tail[0].seq - 1 if tail else messages.last_seq(session, agent.id)


def _replace_blocks(session: Session, agent_id: str, block_ids: list[str]) -> None:
    wanted = [blocks.get(session, block_id) for block_id in block_ids]
    for current in blocks.for_agent(session, agent_id):
        blocks.detach(session, agent_id, current.id)
    session.flush()
    for block in wanted:
        blocks.attach(session, agent_id, block)


def _set_folders(session: Session, agent_id: str, folder_ids: list[str]) -> None:
    """The agent has exactly these folders (NotFound for an unknown one): it sees their
    finished files, closed, and has the file tools while it has a folder."""
    wanted = [folders.get(session, folder_id).id for folder_id in folder_ids]
    for current in folders.for_agent(session, agent_id):
        if current.id not in wanted:
            folders.detach(session, agent_id, current.id)
            file_views.remove_folder(session, agent_id, current.id)
    for folder_id in wanted:
        folders.attach(session, agent_id, folder_id)
        file_views.add_folder(session, agent_id, folder_id)
    session.flush()
    sync_file_tools(session, agent_id)


def _set_identities(session: Session, agent_id: str, identity_ids: list[str]) -> None:
    """The agent belongs to exactly these identities; NotFound for an unknown one."""
    for identity_id in identity_ids:
        identities.get(session, identity_id)
    identities.set_agent_identities(session, agent_id, identity_ids)


def _replace_tools(session: Session, agent_id: str, tool_ids: list[str]) -> None:
    wanted = [tools.get(session, tool_id) for tool_id in tool_ids]
    for current in tools.for_agent(session, agent_id):
        tools.detach(session, agent_id, current.id)
    tools.attach(session, agent_id, [tool.id for tool in wanted])


async def delete_agent(deps: HasAgentCaches, agent_id: str) -> None:
    """Delete the agent with its history and passages (and its sleep-time agent, if it has
    one); blocks shared with others stay."""

    def _write(session: Session) -> str | None:
        agent = agents.get(session, agent_id)
        sleeper_id = sleeptime.unpair(session, agent_id)
        blocks.delete_unshared_of_agent(session, agent_id)
        # Its conversations go by their foreign key; their isolated block copies do not.
        conversations.delete_isolated_blocks(session, conversations.ids_of_agent(session, agent_id))
        session.delete(agent)
        return sleeper_id

    sleeper_id = await deps.db.write(_write)
    for gone in [agent_id] if sleeper_id is None else [agent_id, sleeper_id]:
        deps.vectors.forget(gone)
        deps.windows.forget(gone)
