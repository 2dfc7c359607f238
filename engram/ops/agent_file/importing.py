"""Creating agents from an agent file: everything is checked and computed first (configs,
rows, token counts, embeddings), then written in one transaction.

A file's history can be most of a large file in many small messages. Each message waits
for the write as a plain tuple of its row's values, built from the decoded message, which
is dropped then; the write inserts them in batches (Core, not ORM objects) and drops each
batch once it is sent, so the import holds about one copy of the history at any time."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, cast

from pydantic import BaseModel
from sqlalchemy import JSON, Table, func, insert, inspect, null, select
from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.ids import new_id
from engram.memory.embeddings import Embedder
from engram.ops.agent_file.document import (
    MAX_TOKENS,
    AgentFile,
    FileAgent,
    FileMessage,
    FilePassage,
    check_agent_file,
    file_message,
    load_agent_file,
)
from engram.ops.agent_file.embedding import usable_embedding
from engram.ops.agent_file.folders import plan_folders, write_folders
from engram.ops.agent_file.shared_tools import ToolOutcome, ToolPolicy, resolve_tools
from engram.ops.agent_file.sleeptime_groups import write_pairs
from engram.ops.agent_file.unsupported import Adjustment, settle_unsupported
from engram.ops.agents import HasAgentModels, check_fixed_part_fits, default_system
from engram.runtime import ingestion
from engram.runtime.context import count_text, message_tokens
from engram.runtime.views import HELD, search_text
from engram.store import agents, blocks, passages, tools
from engram.store import tables as t
from engram.store.file_views import DEFAULT_MAX_FILES_OPEN as MAX_FILES_OPEN
from engram.store.tables import as_utc
from engram.times import check_timezone

if TYPE_CHECKING:
    from engram.jobs import JobQueue
    from engram.llm.registry import ProviderRegistry
    from engram.runtime.recall_index import RecallIndexer

log = logging.getLogger(__name__)

EMBED_BATCH = 64

# A message row waiting for the write: its values in the order of MESSAGE_COLUMNS.
Row = tuple[Any, ...]
MESSAGE_COLUMNS = tuple(column.key for column in t.Message.__table__.columns if column.key != "seq")
# A JSON column the row never set is SQL NULL, as the ORM writes it (None is JSON null).
_JSON_COLUMNS = frozenset(
    column.key for column in t.Message.__table__.columns if isinstance(column.type, JSON)
)
_APPROVAL = MESSAGE_COLUMNS.index("approval")
# One INSERT batch: this many rows, or fewer when their texts reach INSERT_BATCH_CHARS.
INSERT_BATCH_ROWS = 500
INSERT_BATCH_CHARS = 4_000_000


class HasImport(HasAgentModels, Protocol):
    """Imports agents: resolves their models, embeds their passages, indexes their history,
    queues the ingestion of their folders' files."""

    @property
    def recall_indexer(self) -> RecallIndexer: ...

    @property
    def jobs(self) -> JobQueue: ...


@dataclass
class ImportOptions:
    """How an import departs from the file (the form fields of ``POST /v1/agents/import``)."""

    name: str | None = None
    append_copy_suffix: bool = True
    model: str | None = None
    embedding: str | None = None
    override_existing_tools: bool = True
    # Engram's own: replacing an existing tool may change its network access or packages.
    allow_tool_permission_changes: bool = False
    strip_messages: bool = False
    # Leave out (and report) the parts this server cannot hold yet, rather than refuse.
    strip_unsupported: bool = False
    # Values for the agents' tool variables (the ``secrets`` form field): an export carries
    # the variables' names only.
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass
class ImportResult:
    """The new agents, what became of the file's tools, which tool variables the file
    named that no value was given for (stored empty, per new agent id), and each part of
    the file that was left out or changed."""

    agent_ids: list[str]
    tools: ToolOutcome
    variables_without_value: dict[str, list[str]]
    adjustments: list[Adjustment] = field(default_factory=list)


@dataclass
class _AgentPlan:
    """One agent's new rows, ready to be written."""

    spec: FileAgent
    agent: t.Agent
    earlier: list[Row | None] = field(default_factory=list)
    window: list[Row | None] = field(default_factory=list)
    passages: list[t.Passage] = field(default_factory=list)
    unset_variables: list[str] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)


async def import_agent_file(
    deps: HasImport, raw: bytes | str | BinaryIO, options: ImportOptions
) -> ImportResult:
    """Create every agent of the file anew, in one transaction.

    Raises InvalidInput (the file or an option is wrong), ModelNotFound (a model this server
    does not offer), Conflict (the file would change an existing tool's reach, see
    shared_tools.py) or ProviderError (passages could not be re-embedded)."""
    document = load_agent_file(raw)
    adjustments = settle_unsupported(document, options.strip_unsupported)
    check_agent_file(document)
    folder_plan = await plan_folders(deps.embeddings, document, options.embedding)
    new_blocks = _new_blocks(document)
    plans = [await _plan_agent(deps, i, document, options) for i in range(len(document.agents))]
    file_tools = {tool.id: tool for tool in document.tools}
    refs = list(dict.fromkeys(ref for plan in plans for ref in plan.spec.tool_ids))
    policy = ToolPolicy(options.override_existing_tools, options.allow_tool_permission_changes)

    def _write(
        session: Session,
    ) -> tuple[list[str], ToolOutcome, list[str], list[Adjustment]]:
        session.add_all(new_blocks.values())
        tool_rows, outcome = resolve_tools(session, file_tools, refs, policy)
        for i, plan in enumerate(plans):
            agent_id = plan.agent.id
            session.add(plan.agent)
            session.flush()
            for ref in plan.spec.block_ids:
                blocks.attach(session, agent_id, new_blocks[ref])
            named = tools.by_names(session, plan.spec.tools)
            unknown = [name for name in plan.spec.tools if name not in named]
            if unknown:
                raise InvalidInput(
                    f"file.agents.{i}.tools", f"unknown tool name(s): {', '.join(unknown)}"
                )
            tool_ids = [tool_rows[ref].id for ref in plan.spec.tool_ids]
            tools.attach(session, agent_id, [*tool_ids, *(row.id for row in named.values())])
            agents.set_tags(session, agent_id, plan.spec.tags or [])
            session.add_all(plan.passages)
            session.flush()
            _insert_messages(session, plan.earlier)
            # The window is every message after the cursor: the earlier ones stay in recall.
            plan.agent.window_start_seq = _last_seq(session, agent_id)
            _insert_messages(session, plan.window)
            session.flush()
            check_fixed_part_fits(deps, session, agent_id)
        write_pairs(session, document, {plan.spec.id: plan.agent.id for plan in plans})
        new_files, renamed = write_folders(
            session,
            folder_plan,
            {plan.spec.id: plan.agent.id for plan in plans},
            {plan.spec.id: plan.agent.max_files_open or MAX_FILES_OPEN for plan in plans},
        )
        return [plan.agent.id for plan in plans], outcome, new_files, renamed

    agent_ids, outcome, new_files, renamed = await deps.db.write(_write)
    for agent_id in agent_ids:
        deps.recall_indexer.notify(agent_id)  # the imported history becomes searchable by meaning
    for file_id in new_files:
        await ingestion.enqueue(deps.jobs, file_id)
    unset = {plan.agent.id: plan.unset_variables for plan in plans if plan.unset_variables}
    adjustments += [note for plan in plans for note in plan.adjustments]
    adjustments += folder_plan.adjustments + renamed
    return ImportResult(agent_ids, outcome, unset, adjustments)


def _new_blocks(document: AgentFile) -> dict[str, t.Block]:
    """A fresh block per file block some agent uses; agents sharing one keep sharing it."""
    used = {ref for agent in document.agents for ref in agent.block_ids}
    return {
        block.id: blocks.new_block(
            label=block.label,
            value=block.value,
            limit=block.limit,
            description=block.description,
            read_only=block.read_only,
            hidden=block.hidden,
            metadata=block.metadata,
            tags=block.tags,
        )
        for block in document.blocks
        if block.id in used
    }


async def _plan_agent(
    deps: HasAgentModels, index: int, document: AgentFile, options: ImportOptions
) -> _AgentPlan:
    spec = document.agents[index]
    llm_config = await _llm_config(deps.providers, spec, options.model, f"file.agents.{index}")
    embedding_config = await usable_embedding(
        deps.embeddings, spec.embedding_config, options.embedding
    )
    agent_id = new_id("agent")
    name = options.name or spec.name or f"agent-{agent_id[6:14]}"
    if not options.name and options.append_copy_suffix:
        name = f"{name}_copy"
    if len(name) > 255:
        raise InvalidInput("name", f"'{name[:40]}...' is over 255 characters; pass a shorter one")
    # Stripping the messages drops their summary too: it would describe a conversation
    # the agent no longer has.
    summary = "" if options.strip_messages else spec.extras.summary
    plan = _AgentPlan(
        spec,
        t.Agent(
            id=agent_id,
            name=name,
            system=spec.system if spec.system is not None else default_system(spec.agent_type),
            agent_type=spec.agent_type,
            description=spec.description,
            metadata_=spec.metadata or {},
            llm_config=llm_config,
            embedding_config=embedding_config,
            context_window_limit=spec.context_window_limit,
            tool_rules=spec.tool_rules or [],
            compaction_settings=_settings(spec.compaction_settings),
            recall_assist=_settings(spec.recall_assist),
            window_start_seq=0,
            summary=summary,
            summary_tokens=count_text(llm_config["model"], summary) if summary else 0,
            max_files_open=spec.max_files_open,
            per_file_view_window_char_limit=spec.per_file_view_window_char_limit,
            timezone=_zone(index, spec.timezone),
            message_buffer_autoclear=bool(spec.message_buffer_autoclear),
        ),
    )
    plan.agent.tool_env, plan.unset_variables = _tool_env(spec, options.secrets)
    if spec.embedding_config and not _same_embedding(spec.embedding_config, embedding_config):
        plan.adjustments.append(_reembedded(index, spec, embedding_config))
    if not options.strip_messages:
        plan.earlier, plan.window = await asyncio.to_thread(
            _history_rows, plan.agent, spec, f"file.agents.{index}.messages"
        )
    embedder = deps.embeddings.embedder_for(embedding_config)
    plan.passages = await _passage_rows(embedder, agent_id, spec.extras.passages)
    return plan


def _same_embedding(given: dict[str, Any], used: dict[str, Any]) -> bool:
    if given.get("handle") and given.get("handle") == used["handle"]:
        return True
    same_model = given.get("embedding_model") == used["embedding_model"]
    return same_model and given.get("embedding_dim") in (None, used["embedding_dim"])


def _reembedded(index: int, spec: FileAgent, used: dict[str, Any]) -> Adjustment:
    given = spec.embedding_config or {}
    name = given.get("handle") or given.get("embedding_model") or "unnamed"
    dim = given.get("embedding_dim")
    return Adjustment(
        f"agents.{index}.embedding_config",
        "changed",
        f"agent '{spec.id}': embedding '{name}'"
        + (f" ({dim} dimensions)" if dim else "")
        + f" replaced by '{used['handle']}' ({used['embedding_dim']} dimensions); "
        f"{len(spec.extras.passages)} passages re-embedded with it",
    )


async def _llm_config(
    providers: ProviderRegistry, spec: FileAgent, model: str | None, where: str
) -> dict[str, Any]:
    """The ``model`` option's config, or the file's if it names a model and a window."""
    if model:
        return await providers.llm_config_for(model)
    config = spec.llm_config
    if config is None:
        raise InvalidInput(f"{where}.llm_config", "missing: name a model with the 'model' option")
    if not isinstance(config.get("model"), str) or not config["model"]:
        raise InvalidInput(f"{where}.llm_config.model", "a model name is required")
    window = config.get("context_window")
    if not isinstance(window, int) or not 0 < window <= MAX_TOKENS:
        raise InvalidInput(f"{where}.llm_config.context_window", "a token count is required")
    return dict(config)


def _tool_env(spec: FileAgent, given: dict[str, str]) -> tuple[dict[str, str] | None, list[str]]:
    """The agent's tool variables: every name the file declares (Letta's deprecated
    ``tool_exec_environment_variables`` and ``secrets``), valued from the import's
    ``secrets`` or else the file, plus any other variable the import gives; and the
    declared names that got no value (kept, empty, so the agent lists what its tools need)."""
    declared = {**(spec.tool_exec_environment_variables or {}), **(spec.secrets or {})}
    values = {name: given.get(name) or value or "" for name, value in declared.items()}
    values.update(given)
    unset = sorted(name for name, value in values.items() if not value)
    return values or None, unset


def _history_rows(
    agent: t.Agent, spec: FileAgent, where: str
) -> tuple[list[Row | None], list[Row | None]]:
    """The agent's messages as new rows: (those before the window, the window).

    The window keeps the file's in-context order, so the model sees what it saw before;
    the other messages keep their file order and come first. A leading copy of the compiled
    prompt (Letta keeps one; Engram's exports carry one for Letta) is left out: Engram
    compiles the prompt afresh on every step.

    The file's messages are taken from ``spec``: each is released once its row is built."""
    model = agent.llm_config["model"]
    file_messages, spec.messages = spec.messages, []
    asked = _asked_ids(file_messages)
    new_ids: dict[str, str] = {}
    slots = {ref: i for i, ref in enumerate(dict.fromkeys(spec.in_context_message_ids))}
    window: list[Row | None] = [None] * len(slots)
    earlier: list[Row | None] = []
    call_names: dict[str, str] = {}
    for i, raw in enumerate(file_messages):
        file_messages[i] = None
        message = file_message(raw, f"{where}.{i}")  # checked by the parse: cannot fail
        del raw
        if i == 0 and _is_compiled_prompt(message, agent.system):
            continue
        row = _message_row(agent.id, model, message, call_names)
        if message.id in asked:
            new_ids[message.id] = row.id
        values = _row_values(row)
        if message.id in slots:
            window[slots[message.id]] = values
        else:
            earlier.append(values)
    chosen: list[Row | None] = [values for values in window if values is not None]
    for written in (*earlier, *chosen):
        # An answer names its request by file id; the request has a new id now.
        approval = written[_APPROVAL] if written else None
        if isinstance(approval, dict) and approval.get("approval_request_id") in new_ids:
            approval["approval_request_id"] = new_ids[approval["approval_request_id"]]
    return earlier, chosen


def _asked_ids(file_messages: list[Any]) -> set[str]:
    """The file ids of the approval requests some answer in the history names."""
    return {
        raw["approval_request_id"]
        for raw in file_messages
        if isinstance(raw, dict)
        and raw.get("role") == "approval"
        and isinstance(raw.get("approval_request_id"), str)
    }


def _row_values(row: t.Message) -> Row:
    """A new message's values for the write, without the ORM object that computed them."""
    given = inspect(row).dict
    return tuple(
        given[key] if key in given else (null() if key in _JSON_COLUMNS else None)
        for key in MESSAGE_COLUMNS
    )


def _insert_messages(session: Session, rows: list[Row | None]) -> None:
    """Insert the rows in their order, in batches inside the caller's transaction. Each
    row leaves ``rows`` as its batch is built, so a batch sent is a batch freed."""
    statement = insert(cast(Table, t.Message.__table__))
    batch: list[dict[str, Any]] = []
    chars = 0
    for i, values in enumerate(rows):
        if values is None:  # written already
            continue
        rows[i] = None
        batch.append(dict(zip(MESSAGE_COLUMNS, values, strict=True)))
        chars += sum(len(value) for value in values if isinstance(value, str))
        if len(batch) >= INSERT_BATCH_ROWS or chars >= INSERT_BATCH_CHARS:
            session.execute(statement, batch)
            batch, chars = [], 0
    if batch:
        session.execute(statement, batch)


def _last_seq(session: Session, agent_id: str) -> int:
    last = session.scalar(select(func.max(t.Message.seq)).where(t.Message.agent_id == agent_id))
    return int(last or 0)


def _is_compiled_prompt(message: FileMessage, system: str) -> bool:
    return message.role == "system" and bool(system) and message.joined("text").startswith(system)


def _message_row(
    agent_id: str, model: str, message: FileMessage, call_names: dict[str, str]
) -> t.Message:
    role = "tool" if message.role == "function" else message.role
    text = message.joined("text")
    # Letta keeps calls that wait for approval as an "approval" message with tool_calls.
    requested = role == "approval" and bool(message.tool_calls)
    role = "assistant" if requested else role
    calls = [
        {
            "id": call.id,
            "name": call.function.name,
            "arguments": call.function.arguments,
            **({HELD: True} if requested or call.requires_approval else {}),
        }
        for call in message.tool_calls or []
    ]
    call_names.update((call.id, call.function.name) for call in message.tool_calls or [])
    row = t.Message(
        id=new_id("message"),
        agent_id=agent_id,
        role=role,
        text=text or None,
        reasoning=message.joined("reasoning") or None,
        reasoning_blocks=message.reasoning_blocks(),
        tool_calls=calls or None,
        content_parts=message.content_parts() if role == "user" else None,
        name=message.name,
        otid=message.otid,
        search_text=search_text(role, text, calls),
        created_at=as_utc(message.created_at) if message.created_at else datetime.now(UTC),
    )
    if role == "tool":
        returned = message.tool_returns[0] if message.tool_returns else None
        row.tool_call_id = message.tool_call_id or (returned.tool_call_id if returned else None)
        row.tool_name = message.name or call_names.get(row.tool_call_id or "")
        row.tool_status = returned.status if returned else "success"
        row.name = None
    if role == "approval":
        row.approval = {
            "approve": message.approve,
            "approval_request_id": message.approval_request_id,
            "reason": message.denial_reason,
            "approvals": message.approvals,
        }
    row.token_count = message_tokens(model, row)
    return row


async def _passage_rows(
    embedder: Embedder, agent_id: str, items: list[FilePassage]
) -> list[t.Passage]:
    """Passages re-embedded with the new agent's model, in batches, before any write."""
    vectors: list[list[float]] = []
    for start in range(0, len(items), EMBED_BATCH):
        batch = items[start : start + EMBED_BATCH]
        vectors.extend(await embedder.embed([item.text for item in batch]))
        if len(items) > EMBED_BATCH:  # a long wait: say how far it got
            log.info(
                "agent file import: %d of %d passages embedded with %s",
                len(vectors),
                len(items),
                embedder.handle,
            )
    return [
        passages.new_passage(
            agent_id=agent_id,
            text_=item.text,
            embedding=vector,
            embedding_handle=embedder.handle,
            tags=item.tags,
            metadata=item.metadata,
            created_at=as_utc(item.created_at) if item.created_at else None,
        )
        for item, vector in zip(items, vectors, strict=True)
    ]


def _settings(body: BaseModel | None) -> dict[str, Any] | None:
    return body.model_dump(exclude_unset=True) if body is not None else None


def _zone(index: int, name: str | None) -> str | None:
    """The agent's clock as the file gives it; UTC (Letta's default) is kept as no zone."""
    if not name or name == "UTC":
        return None
    return check_timezone(f"file.agents.{index}.timezone", name)
