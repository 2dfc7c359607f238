"""The agent file as a document: its shape, and every check an import can make on the file
alone, before any model is asked or any row is written."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, BinaryIO, ClassVar, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from engram.block_labels import BlockLabel
from engram.errors import InvalidInput
from engram.input_limits import check_text_length, check_value
from engram.memory.policy import CompactionSettingsBody, RecallAssistBody
from engram.ops.agent_file.legacy import from_legacy, is_legacy
from engram.ops.agents import AGENT_TYPES
from engram.ops.sleeptime import SLEEPTIME_AGENT_TYPE
from engram.runtime.builtin_tools import BUILTIN_SCHEMAS
from engram.tools.variables import VariableName, VariableValue

_Model = TypeVar("_Model", bound=BaseModel)

MAX_CHARS = 10_000_000
# A block's limit: anything its 32-bit column holds (Letta sets no upper bound).
MAX_BLOCK_LIMIT = 2_147_483_647
MAX_TOKENS = 10_000_000
# Column widths, checked here so a long value is a 422 on every database.
Name = Annotated[str, Field(max_length=255)]
# The server's own limits on block values and passage texts hold for a file's too, so no
# door lets in what the API would refuse (docs/api.md, "Limits").
BlockValue = Annotated[str, AfterValidator(lambda text: check_text_length(text, "block_chars"))]
PassageText = Annotated[
    str, Field(min_length=1), AfterValidator(lambda text: check_text_length(text, "passage_chars"))
]


class _FilePart(BaseModel):
    """Unknown fields are ignored everywhere, so files from newer servers still import.

    Every field is held to the request limits (input_limits.check_value): no lone
    surrogates, no free-form JSON nested too deep or too large to store and show again."""

    model_config = ConfigDict(extra="ignore")
    checked_on_its_own: ClassVar[bool] = True
    # Fields whose items are checked one by one as models of their own (an agent's
    # messages): bounding the whole field would count a long history as one JSON value.
    checked_by_item: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name in cls.checked_by_item:
            return value
        return check_value(value)


class FileFunction(_FilePart):
    name: str
    arguments: str


class FileToolCall(_FilePart):
    id: str = Field(max_length=128)
    type: str = "function"
    function: FileFunction
    # Engram's own key: the call waited (or waits) for approval.
    requires_approval: bool = False


class FileToolReturn(_FilePart):
    tool_call_id: str | None = None
    status: Literal["success", "error"] = "success"


class FileContent(_FilePart):
    type: str
    text: str | None = None
    reasoning: str | None = None
    # A provider's signed thinking ("reasoning" with a signature) or redacted thinking
    # ("redacted_reasoning" with its data), which must go back to it verbatim.
    signature: str | None = None
    data: str | None = None
    # An image ("image" part, Letta's ImageContent): where it comes from, by URL or as
    # base64 data.
    source: dict[str, Any] | None = None


class FileMessage(_FilePart):
    id: str
    # "approval": with tool_calls, calls that wait for approval (as Letta stores them);
    # without, the answer to such a request.
    role: Literal["user", "assistant", "system", "tool", "function", "approval"]
    content: str | list[FileContent] | None = None
    name: Name | None = None
    otid: str | None = Field(default=None, max_length=64)
    tool_calls: list[FileToolCall] | None = None
    tool_call_id: str | None = Field(default=None, max_length=128)
    tool_returns: list[FileToolReturn] | None = None
    created_at: datetime | None = None
    approve: bool | None = None
    approval_request_id: str | None = None
    denial_reason: str | None = None
    approvals: list[dict[str, Any]] | None = None

    def reasoning_blocks(self) -> list[dict[str, Any]] | None:
        """The provider's thinking blocks as stored on a message, if the file kept them."""
        blocks: list[dict[str, Any]] = []
        for part in self.content if isinstance(self.content, list) else []:
            if part.type == "reasoning" and part.signature:
                signed = {"thinking": part.reasoning or "", "signature": part.signature}
                blocks.append({"type": "thinking", **signed})
            elif part.type == "redacted_reasoning" and part.data:
                blocks.append({"type": "redacted_thinking", "data": part.data})
        return blocks or None

    def content_parts(self) -> list[dict[str, Any]] | None:
        """A message with images: its text and image parts in order, as stored; else None."""
        if self.content is None or isinstance(self.content, str):
            return None
        if not any(part.type == "image" and part.source for part in self.content):
            return None
        return [
            {"type": "image", "source": part.source}
            if part.type == "image"
            else {"type": "text", "text": part.text or ""}
            for part in self.content
            if part.type == "text" or (part.type == "image" and part.source)
        ]

    def joined(self, kind: Literal["text", "reasoning"]) -> str:
        """The message's text or reasoning parts as one string."""
        if self.content is None or isinstance(self.content, str):
            return (self.content or "") if kind == "text" else ""
        return "\n".join(
            (part.text or "") if kind == "text" else (part.reasoning or "")
            for part in self.content
            if part.type == kind
        )


class FileBlock(_FilePart):
    id: str
    label: BlockLabel
    value: BlockValue
    limit: int | None = Field(default=None, gt=0, le=MAX_BLOCK_LIMIT)
    description: str | None = None
    read_only: bool = False
    hidden: bool | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None


class FileTool(_FilePart):
    id: str
    name: Name | None = None
    tool_type: str = "custom"
    description: str | None = None
    source_type: str | None = None
    source_code: str | None = None
    json_schema: dict[str, Any] | None = None
    tags: list[str] | None = None
    return_char_limit: int = Field(default=50_000, gt=0, le=MAX_CHARS)
    pip_requirements: list[Any] | None = None
    metadata_: dict[str, Any] | None = None

    @property
    def tool_name(self) -> str | None:
        return self.name or (self.json_schema or {}).get("name")


class FilePassage(_FilePart):
    text: PassageText
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime | None = None


class EngramExtras(_FilePart):
    """What Engram keeps that Letta's schema has no field for."""

    summary: str = ""
    passages: list[FilePassage] = []


class FileAgent(_FilePart):
    checked_by_item: ClassVar[frozenset[str]] = frozenset({"messages"})

    id: str
    name: Name | None = None
    system: str | None = None
    agent_type: str = "letta_v1_agent"
    description: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[Name] | None = None
    llm_config: dict[str, Any] | None = None
    embedding_config: dict[str, Any] | None = None
    context_window_limit: int | None = Field(default=None, ge=256, le=MAX_TOKENS)
    tool_rules: list[dict[str, Any]] | None = None
    compaction_settings: CompactionSettingsBody | None = None
    recall_assist: RecallAssistBody | None = None
    # The agent's tool variables by name. Exports leave the values empty (a file is shared,
    # its secrets are not); the import's ``secrets`` option gives them.
    tool_exec_environment_variables: dict[VariableName, VariableValue | None] | None = None
    secrets: dict[VariableName, VariableValue | None] | None = None
    block_ids: list[str] = []
    tool_ids: list[str] = []
    tools: list[str] = []
    source_ids: list[str] | None = None
    files_agents: list[Any] = []
    max_files_open: int | None = Field(default=None, ge=1, le=100)
    per_file_view_window_char_limit: int | None = Field(default=None, ge=100, le=1_000_000)
    # The agent's clock (an IANA zone name) and whether it keeps messages between turns.
    timezone: str | None = Field(default=None, max_length=64)
    message_buffer_autoclear: bool | None = None
    # Blocks given inline (Letta's CreateBlock): made file blocks of their own on load.
    memory_blocks: list[Any] | None = None
    in_context_message_ids: list[str] = []
    # The history as decoded JSON, each message checked as a FileMessage by
    # parse_agent_file and made one again, one at a time, when its row is built
    # (file_message): a long history of short messages is held once, not as decoded JSON
    # and as models besides, which would cost several times the file.
    messages: list[Any] = []
    engram: EngramExtras | None = None

    @property
    def extras(self) -> EngramExtras:
        return self.engram or EngramExtras()


class AgentFile(_FilePart):
    agents: list[FileAgent] = Field(min_length=1)
    groups: list[Any] = []
    blocks: list[FileBlock] = []
    files: list[Any] = []
    sources: list[Any] = []
    tools: list[FileTool] = []
    mcp_servers: list[Any] = []
    skills: list[dict[str, Any]] = []
    metadata: dict[str, Any] = {}
    created_at: datetime | None = None


def load_agent_file(raw: bytes | str | BinaryIO) -> AgentFile:
    """The document, shaped as the model of the current layout. Raises InvalidInput naming
    the first thing wrong with it.

    Letta writes and reads three shapes, all taken here: the current one (an object with
    an ``agents`` list), the same object encoded once more as a JSON string, and the
    legacy single-agent layout (legacy.py), rewritten as the current one.

    Given a binary file (an upload), its bytes are read and turned into text before the
    JSON is decoded, and freed then: a large file is held as bytes and text only while
    one becomes the other, and as text and the values built from it only while the JSON
    is decoded, never as all three at once."""
    data = _decoded(_text(raw))
    if isinstance(data, str):  # the file encoded once more, as Letta's importer allows
        data = _decoded(data)
    if not isinstance(data, dict):
        raise InvalidInput(
            "file", "an agent file is a JSON object with an 'agents' list (or one legacy agent)"
        )
    if is_legacy(data):
        data = from_legacy(data)
    document = _validated(AgentFile, data, "file")
    for i, agent in enumerate(document.agents):
        _take_inline_blocks(document, agent, f"file.agents.{i}.memory_blocks")
    return document


def _validated(model: type[_Model], data: Any, where: str) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        place = ".".join([where, *(str(part) for part in errors[0]["loc"])])
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise InvalidInput(place, f"{errors[0]['msg']}{more}") from exc


def _take_inline_blocks(document: AgentFile, agent: FileAgent, where: str) -> None:
    """An agent's inline ``memory_blocks`` become blocks of the file that only it uses,
    so they are imported as its other blocks are."""
    for j, raw in enumerate(agent.memory_blocks or []):
        given = raw if isinstance(raw, dict) else {}
        block = _validated(
            FileBlock, {**given, "id": f"{agent.id}/memory_blocks.{j}"}, f"{where}.{j}"
        )
        document.blocks.append(block)
        agent.block_ids.append(block.id)
    agent.memory_blocks = None


def check_agent_file(document: AgentFile) -> None:
    """Every check the file allows on its own: ids unique, references resolved, tools
    and messages importable. Raises InvalidInput naming the first problem."""
    _unique([agent.id for agent in document.agents], "file.agents")
    _unique([block.id for block in document.blocks], "file.blocks")
    _unique([tool.id for tool in document.tools], "file.tools")
    for i, agent in enumerate(document.agents):
        _check_agent(document, agent, f"file.agents.{i}")


def _decoded(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidInput("file", f"not a JSON agent file ({exc})") from exc


def _text(raw: bytes | str | BinaryIO) -> str:
    """The file as text, decoded as ``json.loads`` decodes bytes (UTF-8, -16 or -32). Given
    a file, its bytes live only in this frame, so they are gone when the JSON is decoded."""
    if isinstance(raw, str):
        return raw
    data = raw if isinstance(raw, bytes) else raw.read()
    try:
        return data.decode(json.detect_encoding(data), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise InvalidInput("file", f"not a JSON agent file ({exc})") from exc


def file_message(raw: Any, where: str) -> FileMessage:
    """One message of an agent's history as a checked model; InvalidInput names the first
    thing wrong with it (``where`` is its place in the file)."""
    try:
        message = FileMessage.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        place = ".".join([where, *(str(part) for part in errors[0]["loc"])])
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise InvalidInput(place, f"{errors[0]['msg']}{more}") from exc
    _check_message(message, where)
    return message


def _unique(ids: list[str], where: str) -> set[str]:
    seen: set[str] = set()
    for ident in ids:
        if ident in seen:
            raise InvalidInput(where, f"the id '{ident}' is used twice")
        seen.add(ident)
    return seen


def _check_agent(document: AgentFile, agent: FileAgent, where: str) -> None:
    # A sleep-time agent left in the file is one of a pair the import holds (unsupported.py).
    if agent.agent_type not in AGENT_TYPES and agent.agent_type != SLEEPTIME_AGENT_TYPE:
        raise InvalidInput(
            f"{where}.agent_type", f"'{agent.agent_type}' is not one of {sorted(AGENT_TYPES)}"
        )
    blocks = {block.id: block for block in document.blocks}
    for ref in agent.block_ids:
        if ref not in blocks:
            raise InvalidInput(f"{where}.block_ids", f"'{ref}' names no block in the file")
    labels = [blocks[ref].label for ref in agent.block_ids]
    if len(labels) != len(set(labels)):
        raise InvalidInput(f"{where}.block_ids", "two of the agent's blocks share a label")
    tools = {tool.id: tool for tool in document.tools}
    for ref in agent.tool_ids:
        if ref not in tools:
            raise InvalidInput(f"{where}.tool_ids", f"'{ref}' names no tool in the file")
        _check_tool(tools[ref])
    ids = [file_message(raw, f"{where}.messages.{i}").id for i, raw in enumerate(agent.messages)]
    messages = _unique(ids, f"{where}.messages")
    _unique(agent.in_context_message_ids, f"{where}.in_context_message_ids")
    for ref in agent.in_context_message_ids:
        if ref not in messages:
            raise InvalidInput(
                f"{where}.in_context_message_ids", f"'{ref}' names no message of this agent"
            )


def _check_tool(tool: FileTool) -> None:
    """Built-in tools must be ones this server has; custom ones must carry their schema."""
    name = tool.tool_name
    if not name:
        raise InvalidInput("file.tools", f"tool '{tool.id}' has no name")
    if name in BUILTIN_SCHEMAS:
        return
    if tool.tool_type.startswith("letta_"):
        raise InvalidInput(
            "file.tools",
            f"'{name}' is a built-in tool this server does not have; remove it from the "
            "file's tools and the agent's tool_ids to import without it",
        )
    if (tool.json_schema or {}).get("name") != name:
        raise InvalidInput("file.tools", f"tool '{name}' needs a json_schema named '{name}'")


# Reasoning a provider hid or condensed: nothing in it can be shown to a model again.
SKIPPED_PARTS = {"redacted_reasoning", "omitted_reasoning", "summarized_reasoning"}


def _check_image(part: FileContent, role: str, where: str) -> None:
    """An image part imports in a user message, by URL or as base64 data (as Engram stores
    them); Letta's images kept in its own file storage (source ``letta``) cannot."""
    source = part.source or {}
    kind = source.get("type")
    complete = (kind == "url" and isinstance(source.get("url"), str)) or (
        kind == "base64" and isinstance(source.get("data"), str) and source.get("media_type")
    )
    if role != "user" or not complete:
        raise InvalidInput(
            f"{where}.content",
            "an image imports only in a user message, with a source of type 'url' (and its "
            f"url) or 'base64' (with media_type and data); this one has type {kind!r}",
        )


def _check_message(message: FileMessage, where: str) -> None:
    for part in message.content if isinstance(message.content, list) else []:
        if part.type == "image":
            _check_image(part, message.role, where)
        elif part.type not in {"text", "reasoning", *SKIPPED_PARTS}:
            raise InvalidInput(
                f"{where}.content", f"content of type '{part.type}' cannot be imported"
            )
    returned = message.tool_returns[0].tool_call_id if message.tool_returns else None
    if message.role in ("tool", "function") and not (message.tool_call_id or returned):
        raise InvalidInput(f"{where}.tool_call_id", "a tool message needs the id of its call")
    answered = message.approve is not None or message.approvals is not None
    if message.role == "approval" and not (message.tool_calls or answered):
        raise InvalidInput(
            f"{where}.approvals",
            "an approval message needs tool_calls (a request) or approve/approvals (an answer)",
        )
    for i, entry in enumerate(message.approvals or []):
        if entry.get("type", "approval") not in ("approval", "tool"):
            raise InvalidInput(f"{where}.approvals.{i}.type", "must be 'approval' or 'tool'")
        if not isinstance(entry.get("tool_call_id"), str):
            raise InvalidInput(f"{where}.approvals.{i}.tool_call_id", "names the call it decides")
