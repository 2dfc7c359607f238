"""Executing the tool calls of one model response.

Every failure a model can cause (unknown tool, arguments that are not JSON, a missing
argument, an edit over a block's limit) becomes a tool result with status ``error`` that
the model reads on its next step; none of them ends the run.

Memory tool calls are also told to the run's ``MemoryLedger``, which counts them and may
add a note to a result (a search repeated, an edit that undid the previous one).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from engram.errors import EngramError, InvalidInput
from engram.llm.client import ToolCall
from engram.memory.core import EditRejected
from engram.memory.embeddings import Embedder
from engram.memory.ledger import (
    EDIT_TOOLS,
    INSERT_TOOLS,
    MEMORY_TOOLS,
    SEARCH_TOOLS,
    MemoryLedger,
    hits_in_output,
)
from engram.memory.memory_commands import MEMORY_EDIT_COMMANDS, label_of
from engram.memory.rerank.plan import RerankPlan
from engram.memory.tools import BASE_TOOL_FUNCTIONS, ToolContext, ToolFailure
from engram.runtime.memory_callbacks import Grant
from engram.store import tables as t
from engram.tools import packages
from engram.tools.confinement import sandbox_in_force
from engram.tools.sandbox import SandboxLimits, ToolRun, run_tool

if TYPE_CHECKING:
    from engram.config import Settings
    from engram.runtime.memory_gateway import MemoryGateway
    from engram.store.vectors import VectorIndex

log = logging.getLogger(__name__)


class CustomToolDeps(Protocol):
    """What running a custom tool uses: the sandbox settings and the memory gateway."""

    @property
    def settings(self) -> Settings: ...

    @property
    def memory_gateway(self) -> MemoryGateway: ...


class IndexDeps(Protocol):
    """What the memory tools search and write besides rows: the two vector indexes."""

    @property
    def vectors(self) -> VectorIndex: ...

    @property
    def message_vectors(self) -> VectorIndex: ...


class ToolCallDeps(CustomToolDeps, IndexDeps, Protocol):
    """What executing a model's calls in this process uses: custom and memory tools."""


# Tool arguments whose text is embedded; computed before the step's transaction opens.
_EMBEDDED_ARGUMENTS = {
    "archival_memory_insert": "content",
    "archival_memory_search": "query",
    "conversation_search": "query",
    "semantic_search_files": "query",
}


@dataclass
class ExecutedCall:
    call_id: str
    name: str
    output: str
    failed: bool
    heartbeat: bool
    malformed: bool = False
    """The call itself was wrong (unknown tool, arguments not JSON, a missing or unknown
    argument), as opposed to a well-formed call the tool refused."""


@dataclass(frozen=True)
class CallInput:
    """A call as every tool pipeline reads it first: its arguments (None when they are not
    a JSON object) with ``request_heartbeat`` taken out, and the answers it can get."""

    call: ToolCall
    arguments: dict[str, Any] | None
    heartbeat: bool

    @classmethod
    def of(cls, call: ToolCall) -> CallInput:
        arguments = parse_arguments(call.arguments)
        if not isinstance(arguments, dict):
            return cls(call, None, False)
        return cls(call, arguments, bool(arguments.pop("request_heartbeat", False)))

    def answer(self, output: str, *, failed: bool = False, malformed: bool = False) -> ExecutedCall:
        return ExecutedCall(self.call.id, self.call.name, output, failed, self.heartbeat, malformed)

    def fail(self, message: str, *, malformed: bool = False) -> ExecutedCall:
        return self.answer(f"Error: {message}", failed=True, malformed=malformed)

    def not_an_object(self) -> ExecutedCall:
        raw = self.call.arguments[:200]
        return self.fail(f"arguments must be a JSON object, got: {raw!r}", malformed=True)


async def side_by_side(
    calls: list[ToolCall], run: Callable[[ToolCall], Awaitable[ExecutedCall]]
) -> dict[str, ExecutedCall]:
    """Run independent calls of one response concurrently, a few at a time; the results by
    call id (recorded later in the calls' order)."""
    gate = asyncio.Semaphore(PARALLEL_TOOL_CALLS)

    async def one(call: ToolCall) -> ExecutedCall:
        async with gate:
            return await run(call)

    results = await asyncio.gather(*(one(call) for call in calls))
    return {call.id: result for call, result in zip(calls, results, strict=True)}


@dataclass(frozen=True)
class Prefetched:
    """The vectors of the texts a batch of calls embeds, computed before the step's
    transaction opens; ``error`` says why there are none (the embedding model is missing
    or its provider failed), and is what those calls return to the model."""

    vectors: dict[str, list[float]]
    error: str | None = None
    pieces: dict[str, list[str]] = field(default_factory=dict)
    """Archival texts longer than the embedding model reads, by text: the passages each
    is stored as (their vectors are in ``vectors``)."""


PassageSplit = Callable[[str], list[str]]
"""A text as the passages it is stored as (``archival.passage_texts`` for one agent)."""


async def prefetch_vectors(
    embedder: Embedder, calls: list[ToolCall], *, split: PassageSplit | None = None
) -> Prefetched:
    """Embed the texts of the calls that need a vector (with ``split``, an archival
    insert's content as the passages it becomes). A failure is not the turn's: the calls
    that needed the vectors fail as tool calls, and the model reads why."""
    queries: list[str] = []
    inserted: list[str] = []
    for call in calls:
        argument = _EMBEDDED_ARGUMENTS.get(call.name)
        if argument is None:
            continue
        parsed = parse_arguments(call.arguments)
        if isinstance(parsed, dict) and isinstance(parsed.get(argument), str):
            is_insert = call.name == "archival_memory_insert"
            (inserted if is_insert else queries).append(parsed[argument])
    texts = queries + inserted
    if not texts:
        return Prefetched({})
    try:
        pieces = await _split_passages(inserted, split)
        # An inserted text stored as pieces is embedded as its pieces only.
        wanted = queries + [text for text in inserted if text not in pieces]
        wanted += [piece for parts in pieces.values() for piece in parts]
        unique = list(dict.fromkeys(wanted))
        vectors = await embedder.embed(unique)
    except EngramError as exc:  # a missing local model, a provider's error
        log.warning("embedding for %d tool calls failed: %s", len(texts), exc)
        return Prefetched({}, error=str(exc))
    return Prefetched(dict(zip(unique, vectors, strict=True)), pieces=pieces)


async def _split_passages(texts: list[str], split: PassageSplit | None) -> dict[str, list[str]]:
    """The texts that become several passages, with their pieces (tokenized off the loop)."""
    if split is None or not texts:
        return {}

    def run() -> dict[str, list[str]]:
        found = {text: split(text) for text in dict.fromkeys(texts)}
        return {text: parts for text, parts in found.items() if len(parts) > 1}

    return await asyncio.to_thread(run)


PACKAGES_TIMEOUT = 300.0
"""Seconds a first install of a tool's pip_requirements may take."""

PARALLEL_TOOL_CALLS = 4
"""Sandboxed or remote calls of one model response running at once."""


@dataclass(frozen=True)
class CallOrigin:
    """The run, step and assistant message a batch of calls came from: what a tool writes
    through the memory gateway is attributed to them."""

    run_id: str | None = None
    step_id: str | None = None
    message_id: str | None = None


async def run_custom_tools(
    deps: CustomToolDeps,
    agent: t.Agent,
    tools: list[t.Tool],
    calls: list[ToolCall],
    origin: CallOrigin | None = None,
) -> dict[str, ExecutedCall]:
    """Run the calls naming an attached custom tool, each in a fresh sandboxed child,
    before the step's transaction opens (no child runs while the database is locked).
    Keyed by call id; ``execute_calls`` records these results as they are."""
    custom = {tool.name: tool for tool in tools if tool.tool_type == "custom" and tool.source_code}
    wanted = [c for c in calls if c.name in custom and c.name not in BASE_TOOL_FUNCTIONS]
    # Each call runs in its own child.
    return await side_by_side(
        wanted, lambda call: _run_custom(deps, agent, custom[call.name], call, origin)
    )


async def run_agent_tool(
    deps: CustomToolDeps,
    agent: t.Agent,
    tool: t.Tool,
    arguments: dict[str, Any],
    origin: CallOrigin | None = None,
) -> ToolRun:
    """One call of one of the agent's custom tools: its packages installed (once), its
    variables, its network permission, and a memory token for this call only."""
    limits = SandboxLimits.from_settings(deps.settings)
    sandbox = sandbox_in_force(deps.settings)
    if sandbox.refused:  # told to the model, which can say so; nothing is installed
        return ToolRun(False, error=str(sandbox.refusal()))
    try:
        specs = packages.specs_of(tool.pip_requirements, field="pip_requirements")
        root = deps.settings.data_dir / "tool-packages"
        installed = await packages.ensure(
            root,
            specs,
            timeout=PACKAGES_TIMEOUT,
            allow_source_builds=deps.settings.tool_allow_source_builds,
            # Installs run in the sandbox tool calls run in (pip_install.py).
            sandbox=sandbox,
        )
    except (packages.PackagesError, InvalidInput) as exc:
        log.warning("tool %s: %s", tool.name, exc)
        return ToolRun(False, error=str(exc))
    grant = Grant(agent.id, tool.name, **asdict(origin or CallOrigin()))
    async with deps.memory_gateway.granted(grant, seconds=limits.timeout_seconds) as access:
        try:
            return await run_tool(
                tool.source_code or "",
                tool.name,
                arguments,
                env=agent_tool_env(agent),
                limits=limits,
                network=tool_network_allowed(tool, agent),
                packages=installed,
                memory=access,
                sandbox=sandbox,
            )
        except OSError as exc:  # no child could start: the server's problem, told as such
            log.error("tool %s: the sandbox could not start: %s", tool.name, exc)
            return ToolRun(False, error=str(exc))


def agent_tool_env(agent: t.Agent) -> dict[str, str]:
    declared = agent.tool_env or {}
    return {str(key): str(value) for key, value in declared.items()}


def tool_network_allowed(tool: t.Tool, agent: t.Agent | None) -> bool:
    """A tool may use the network when it says so itself (``metadata_.network``) or when
    the agent running it lets all its tools (``metadata.tool_network``); else it has none."""
    if (tool.metadata_ or {}).get("network") is True:
        return True
    return agent is not None and (agent.metadata_ or {}).get("tool_network") is True


async def _run_custom(
    deps: CustomToolDeps, agent: t.Agent, tool: t.Tool, call: ToolCall, origin: CallOrigin | None
) -> ExecutedCall:
    read = CallInput.of(call)
    if read.arguments is None:
        return read.not_an_object()
    run = await run_agent_tool(deps, agent, tool, read.arguments, origin)
    return read.answer(run.text(tool.return_char_limit), failed=not run.ok)


def execute_calls(
    session: Session,
    indexes: IndexDeps,
    agent: t.Agent,
    blocks: list[t.Block],
    tools: list[t.Tool],
    embedder: Embedder,
    vectors: Prefetched,
    calls: list[ToolCall],
    *,
    run_id: str,
    step_id: str,
    message_id: str,
    ledger: MemoryLedger,
    step_number: int,
    custom_results: Mapping[str, ExecutedCall] | None = None,
    rerank: RerankPlan | None = None,
    conversation_id: str | None = None,
) -> list[ExecutedCall]:
    """Run ``calls`` in order, telling ``ledger`` what the memory tools did;
    ``step_number`` (1-based within the run, 0 before its first step) is what the
    ledger's notes cite. ``custom_results`` are the results made before the transaction
    (sandboxed and MCP calls, calls settled without running); they are recorded, not run
    again. ``runtime/tool_batch.py`` is the one caller: the pipeline around this."""
    context = ToolContext(
        session=session,
        agent=agent,
        blocks=blocks,
        embedder=embedder,
        vectors=indexes.vectors,
        message_vectors=indexes.message_vectors,
        run_id=run_id,
        step_id=step_id,
        message_id=message_id,
        vectors_by_text=dict(vectors.vectors),
        embedding_error=vectors.error,
        passage_pieces=dict(vectors.pieces),
        rerank=rerank or RerankPlan(),
        conversation_id=conversation_id,
    )
    attached = {tool.name for tool in tools}
    ran = custom_results or {}
    return [
        ran.get(call.id) or _execute_recorded(context, attached, call, ledger, step_number)
        for call in calls
    ]


def _execute_recorded(
    context: ToolContext, attached: set[str], call: ToolCall, ledger: MemoryLedger, step: int
) -> ExecutedCall:
    """Execute one call and tell the ledger what a memory tool did."""
    if call.name not in MEMORY_TOOLS:
        return _execute_one(context, attached, call)
    arguments = parse_arguments(call.arguments)
    label = _edited_label(call.name, arguments if isinstance(arguments, dict) else {})
    before = _block_value(context, label)
    executed = _execute_one(context, attached, call)
    if executed.failed:
        ledger.record_failure()
        return executed
    note = None
    if call.name in SEARCH_TOOLS:
        effective = _with_defaults(BASE_TOOL_FUNCTIONS[call.name], arguments)
        note = ledger.record_search(call.name, effective, hits_in_output(executed.output), step)
    elif call.name in EDIT_TOOLS and label is not None:
        # A block created (``memory`` create) had no value before; one deleted has none after.
        after = _block_value(context, label) or ""
        note = ledger.record_edit(label, before or "", after, step)
    elif call.name in INSERT_TOOLS:
        ledger.record_insert()
    if note is None:
        return executed
    return replace(executed, output=f"{executed.output}\n\n{note}")


def _edited_label(tool: str, arguments: dict[str, Any]) -> str | None:
    """The label of the block a memory call changes; None for one that changes none
    (``memory`` view) or names none."""
    if tool != "memory":
        named = arguments.get("label")
        return named if isinstance(named, str) else None
    command = arguments.get("command")
    path = arguments.get("old_path" if command == "rename" else "path")
    if command not in MEMORY_EDIT_COMMANDS or not isinstance(path, str):
        return None
    return label_of(path)


def _block_value(context: ToolContext, label: str | None) -> str | None:
    for block in context.blocks:
        if block.label == label:
            return block.value
    return None


def _with_defaults(function: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments a call ran with, so a search spelled with and without a default
    argument is recognised as the same search."""
    parameters = list(inspect.signature(function).parameters.values())[1:]
    defaults = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
    return {**defaults, **arguments}


def _execute_one(context: ToolContext, attached: set[str], call: ToolCall) -> ExecutedCall:
    read = CallInput.of(call)
    fail, arguments = read.fail, read.arguments
    if call.name not in attached:
        available = ", ".join(sorted(attached))
        return fail(
            f"tool '{call.name}' is not available; available tools: {available}", malformed=True
        )
    function = BASE_TOOL_FUNCTIONS.get(call.name)
    if function is None:
        return fail(f"tool '{call.name}' cannot run on this server yet")
    if arguments is None:
        return read.not_an_object()
    problem = _signature_problem(function, arguments)
    if problem:
        return fail(f"{call.name}: {problem}", malformed=True)
    try:
        with context.session.begin_nested():
            output = function(context, **arguments)
    except (ToolFailure, EditRejected, EngramError) as exc:
        return fail(str(exc))
    except Exception as exc:  # a bug in a tool must not end the agent's run
        log.exception("tool %s raised", call.name)
        return fail(f"{call.name} failed: {type(exc).__name__}: {exc}")
    return read.answer(output)


def parse_arguments(raw: str) -> Any:
    """A call's arguments as JSON; ``{}`` for none, None when they are not JSON."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return None


def _signature_problem(function: Any, arguments: dict[str, Any]) -> str | None:
    parameters = list(inspect.signature(function).parameters.values())[1:]
    names = {p.name for p in parameters}
    unknown = sorted(set(arguments) - names)
    if unknown:
        return f"unexpected argument(s) {', '.join(unknown)}; expected {', '.join(sorted(names))}"
    missing = [
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty and p.name not in arguments
    ]
    if missing:
        return f"missing required argument(s): {', '.join(missing)}"
    return None
