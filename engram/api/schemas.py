"""Request bodies, validated at the edge. Unknown fields are ignored so that clients sending
Letta fields Engram does not use keep working; known fields are checked strictly."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from engram.block_labels import BlockLabel
from engram.input_limits import check_length, check_text_length, check_value
from engram.memory.policy import CompactionSettingsBody, RecallAssistBody
from engram.ops.runs import StopReason
from engram.tools.variables import ToolVariables

FOLDER_IDS = AliasChoices("folder_ids", "source_ids")
"""Letta takes an agent's folders under their older name, sources, too."""


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # Every field is checked here (input_limits.check_value), so walks of an enclosing
    # model's free-form fields need not enter this one again.
    checked_on_its_own: ClassVar[bool] = True

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        """No field of any request may hold a lone surrogate, nor JSON too deep or too large
        (docs/api.md, "Limits"); the 422 names the field."""
        return check_value(value)


def _text_limit(kind: str) -> AfterValidator:
    return AfterValidator(lambda text: check_text_length(text, kind))


# Text fields with a configurable size (ENGRAM_MAX_*_CHARS).
MessageText = Annotated[str, _text_limit("message_chars")]
PassageText = Annotated[str, Field(min_length=1), _text_limit("passage_chars")]
BlockValue = Annotated[str, _text_limit("block_chars")]


# Bounds keep values storable in a 32-bit column and sensible for the server.
MAX_CHARS = 10_000_000
# A block's limit: anything its 32-bit column holds (Letta sets no upper bound).
MAX_BLOCK_LIMIT = 2_147_483_647
MAX_TOKENS = 10_000_000
# Block labels as Letta takes them, `/` paths included (rules in engram/block_labels.py).
Label = BlockLabel
ToolCallFormat = Literal["native", "json_text"]


class CreateBlock(Body):
    label: Label
    value: BlockValue
    limit: int | None = Field(default=None, gt=0, le=MAX_BLOCK_LIMIT)
    description: str | None = None
    read_only: bool = False
    hidden: bool | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None


class BlockUpdate(Body):
    value: BlockValue | None = None
    limit: int | None = Field(default=None, gt=0, le=MAX_BLOCK_LIMIT)
    label: Label | None = None
    description: str | None = None
    read_only: bool | None = None
    hidden: bool | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None


class LLMConfigBody(Body):
    model: str = Field(min_length=1)
    model_endpoint_type: str = "openai"
    model_endpoint: str | None = None
    provider_name: str | None = None
    context_window: int = Field(gt=0, le=MAX_TOKENS)
    handle: str | None = None
    temperature: float | None = 0.7
    max_tokens: int | None = Field(default=None, gt=0, le=MAX_TOKENS)
    # Thinking: on with a budget of max_reasoning_tokens, for models that take one.
    enable_reasoner: bool = False
    max_reasoning_tokens: int | None = Field(default=None, ge=1024, le=MAX_TOKENS)
    # Engram's own: "json_text" asks a model without reliable tool calling for tool calls
    # written as JSON in its text (see engram/llm/text_tools.py).
    tool_call_format: ToolCallFormat = "native"


class EmbeddingConfigBody(Body):
    embedding_endpoint_type: str
    embedding_endpoint: str | None = None
    embedding_model: str
    embedding_dim: int = Field(gt=0, le=65_536)
    handle: str | None = None
    embedding_chunk_size: int | None = 300
    batch_size: int = 32


AgentType = Literal["letta_v1_agent", "memgpt_v2_agent", "memgpt_agent"]


class CreateAgent(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    system: str | None = None
    agent_type: AgentType = "letta_v1_agent"
    description: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    memory_blocks: list[CreateBlock] | None = None
    block_ids: list[str] | None = None
    tools: list[str] | None = None
    tool_ids: list[str] | None = None
    include_base_tools: bool = True
    model: str | None = None
    llm_config: LLMConfigBody | None = None
    # Written into llm_config; wins over llm_config.tool_call_format when both are given.
    tool_call_format: ToolCallFormat | None = None
    # Letta's thinking switches, written into llm_config like tool_call_format.
    enable_reasoner: bool | None = None
    max_reasoning_tokens: int | None = Field(default=None, ge=1024, le=MAX_TOKENS)
    embedding: str | None = None
    embedding_config: EmbeddingConfigBody | None = None
    context_window_limit: int | None = Field(default=None, gt=0, le=MAX_TOKENS)
    tool_rules: list[dict[str, Any]] | None = None
    compaction_settings: CompactionSettingsBody | None = None
    recall_assist: RecallAssistBody | None = None
    # Folders to attach (also under Letta's older name, source_ids), and their files in
    # the prompt (docs/folders.md).
    folder_ids: list[str] | None = Field(default=None, validation_alias=FOLDER_IDS)
    max_files_open: int | None = Field(default=None, ge=1, le=100)
    per_file_view_window_char_limit: int | None = Field(default=None, ge=100, le=1_000_000)
    # Variables for the agent's custom tools' sandboxed children (docs/tools.md).
    tool_exec_environment_variables: ToolVariables | None = None
    secrets: ToolVariables | None = None
    # The identities (engram.ops.identities) the agent belongs to.
    identity_ids: list[str] | None = None
    # Letta's per-provider model settings, written into llm_config (engram/llm/model_settings.py),
    # and its agent-level shortcuts for three of them.
    model_settings: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, gt=0, le=MAX_TOKENS)
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    # Pair the agent with a sleep-time agent that edits its memory in the background
    # (docs/sleeptime.md).
    enable_sleeptime: bool | None = None
    # The agent's first messages, in its window (Letta's initial_message_sequence).
    initial_message_sequence: list[MessageCreate] | None = Field(default=None, max_length=1000)
    # The agent's clock: an IANA zone name (docs/api.md); None is UTC.
    timezone: str | None = Field(default=None, max_length=64)
    # Keep no messages in the window between turns, only memory.
    message_buffer_autoclear: bool = False
    # Letta's tools for messaging other agents, added to the agent's tools.
    include_multi_agent_tools: bool = False
    # Letta's base tool rules: Engram adds none of its own, so true is refused.
    include_base_tool_rules: bool | None = None
    # A new folder for the agent, attached (Letta's deprecated default source), whose
    # chunks are embedding_chunk_size tokens of the agent's embedding model.
    include_default_source: bool = False
    embedding_chunk_size: int | None = Field(default=None, ge=16, le=8192)
    # Letta's reasoning switch for the agent's model (docs/api.md).
    reasoning: bool | None = None
    # Letta hides its own helper agents from listings; Engram lists every agent.
    hidden: bool | None = None

    @field_validator("include_base_tool_rules", mode="after")
    @classmethod
    def _no_base_rules(cls, value: bool | None) -> bool | None:
        if value:
            raise ValueError(
                "Engram adds no base tool rules of its own; send the rules the agent should "
                "follow in tool_rules"
            )
        return value

    @field_validator("hidden", mode="after")
    @classmethod
    def _not_hidden(cls, value: bool | None) -> bool | None:
        return _never_hidden(value)

    @field_validator("timezone", mode="after")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return _iana(value)


class UpdateAgent(Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    system: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    block_ids: list[str] | None = None
    tool_ids: list[str] | None = None
    model: str | None = None
    llm_config: LLMConfigBody | None = None
    tool_call_format: ToolCallFormat | None = None  # as on CreateAgent
    embedding: str | None = None
    embedding_config: EmbeddingConfigBody | None = None
    context_window_limit: int | None = Field(default=None, gt=0, le=MAX_TOKENS)
    tool_rules: list[dict[str, Any]] | None = None
    compaction_settings: CompactionSettingsBody | None = None
    recall_assist: RecallAssistBody | None = None
    max_files_open: int | None = Field(default=None, ge=1, le=100)  # as on CreateAgent
    per_file_view_window_char_limit: int | None = Field(default=None, ge=100, le=1_000_000)
    tool_exec_environment_variables: ToolVariables | None = None  # as on CreateAgent
    secrets: ToolVariables | None = None
    identity_ids: list[str] | None = None  # replaces the set
    folder_ids: list[str] | None = Field(default=None, validation_alias=FOLDER_IDS)  # the set
    model_settings: dict[str, Any] | None = None  # as on CreateAgent
    max_tokens: int | None = Field(default=None, gt=0, le=MAX_TOKENS)
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    enable_sleeptime: bool | None = None  # true pairs, false unpairs (docs/sleeptime.md)
    timezone: str | None = Field(default=None, max_length=64)  # as on CreateAgent
    message_buffer_autoclear: bool | None = None
    # The window's messages: the latest messages of the history, oldest first.
    message_ids: list[str] | None = None
    # What the agent's last run shows (Letta lets a client set them).
    last_run_completion: datetime | None = None
    last_run_duration_ms: int | None = Field(default=None, ge=0)
    last_stop_reason: StopReason | None = None
    reasoning: bool | None = None  # as on CreateAgent
    hidden: bool | None = None

    @field_validator("hidden", mode="after")
    @classmethod
    def _not_hidden(cls, value: bool | None) -> bool | None:
        return _never_hidden(value)

    @field_validator("timezone", mode="after")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return _iana(value)


def _never_hidden(value: bool | None) -> bool | None:
    if value:
        raise ValueError(
            "Engram does not hide agents (Letta hides only its own helper agents); every "
            "agent is listed"
        )
    return value


def _iana(name: str | None) -> str | None:
    """``name`` when it is an IANA time zone; ValueError (a 422 naming the field) if not."""
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"'{name}' is not an IANA time zone name (e.g. 'UTC', 'Europe/Paris')"
        ) from None
    return name


class TextPart(Body):
    type: Literal["text"] = "text"
    text: str


IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
"""The image formats both OpenAI's and Anthropic's APIs take."""


class UrlImage(Body):
    type: Literal["url"] = "url"
    url: str = Field(min_length=1, max_length=4096)

    @field_validator("url", mode="after")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("an image url is an http:// or https:// URL (send data as base64)")
        return url


class Base64Image(Body):
    type: Literal["base64"] = "base64"
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: str = Field(min_length=1)
    detail: Literal["low", "high", "auto"] | None = None

    @field_validator("data", mode="after")
    @classmethod
    def _base64(cls, data: str) -> str:
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the image data is not valid base64") from None
        return data


class ImagePart(Body):
    """An image in a user message (Letta's ``ImageContent``): by URL or as base64 data."""

    type: Literal["image"]
    source: Annotated[UrlImage | Base64Image, Field(discriminator="type")]

    def stored(self) -> dict[str, Any]:
        return {"type": "image", "source": self.source.model_dump(exclude_none=True)}


ContentPart = TextPart | ImagePart


class MessageCreate(Body):
    type: Literal["message"] | None = "message"
    role: Literal["user", "system", "assistant"]
    content: str | list[ContentPart]
    name: str | None = None
    otid: str | None = None

    @field_validator("content", mode="after")
    @classmethod
    def _content_size(cls, content: str | list[ContentPart]) -> str | list[ContentPart]:
        if isinstance(content, str):
            return check_text_length(content, "message_chars")
        texts = [part.text for part in content if isinstance(part, TextPart)]
        check_length(sum(len(text) + 1 for text in texts) - 1, "message_chars")
        return content

    def text(self) -> str:
        return content_text(self.content)

    def parts(self) -> list[dict[str, Any]] | None:
        """The content parts as stored, when there are images among them; else None (the
        text says it all)."""
        return content_parts(self.content)


def content_text(content: str | list[ContentPart]) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if isinstance(part, TextPart))


def content_parts(content: str | list[ContentPart]) -> list[dict[str, Any]] | None:
    if isinstance(content, str) or not any(isinstance(p, ImagePart) for p in content):
        return None
    return [
        part.stored() if isinstance(part, ImagePart) else {"type": "text", "text": part.text}
        for part in content
    ]


class ApprovalReturn(Body):
    """One call's decision in an approval's ``approvals`` list."""

    type: Literal["approval"] = "approval"
    tool_call_id: str
    approve: bool
    reason: str | None = None


class ClientToolReturn(Body):
    """A held call's result produced by the client itself (Letta's ``ToolReturn``)."""

    type: Literal["tool"] = "tool"
    tool_call_id: str
    tool_return: str | list[TextPart]
    status: Literal["success", "error"]
    stdout: list[str] | None = None
    stderr: list[str] | None = None

    def text(self) -> str:
        if isinstance(self.tool_return, str):
            return self.tool_return
        return "\n".join(part.text for part in self.tool_return)

    def decision(self) -> dict[str, Any]:
        return {**self.model_dump(), "tool_return": self.text()}


class ApprovalCreate(Body):
    """The answer to a pending approval: one decision for the whole request (``approve``
    with ``approval_request_id``) or one per call (``approvals``)."""

    type: Literal["approval"]
    approve: bool | None = None
    approval_request_id: str | None = None
    reason: str | None = None
    approvals: list[ApprovalReturn | ClientToolReturn] | None = None
    otid: str | None = None

    def decisions(self) -> list[dict[str, Any]] | None:
        if self.approvals is None:
            return None
        return [
            item.decision() if isinstance(item, ClientToolReturn) else item.model_dump()
            for item in self.approvals
        ]


class ToolReturnCreate(Body):
    """Results the client produced itself for the calls waiting for approval (Letta's
    ``ToolReturnCreate``): an approval whose every entry is a tool return."""

    type: Literal["tool_return"]
    tool_returns: list[ClientToolReturn] = Field(min_length=1)
    otid: str | None = None


class ModifyApprovalRequest(Body):
    """Whether an agent's calls of one tool wait for approval. Optional here, though Letta
    requires it, because the deprecated query parameter may carry the value instead."""

    requires_approval: bool | None = None


class ClientToolSchema(Body):
    """A tool the client declares for one request and runs itself (docs/approvals.md)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ClientSkillSchema(Body):
    """A skill the client's environment offers for one request (Letta's
    ``ClientSkillSchema``): listed in the prompt's skills section for that request."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(max_length=4000)
    location: str = Field(min_length=1, max_length=1000)


_THINKING_WORDS = {"true": True, "1": True, "yes": True, "on": True}
_THINKING_WORDS.update({"false": False, "0": False, "no": False, "off": False})


MessageType = Literal[
    "system_message",
    "user_message",
    "assistant_message",
    "reasoning_message",
    "hidden_reasoning_message",
    "tool_call_message",
    "tool_return_message",
    "approval_request_message",
    "approval_response_message",
    "summary_message",
    "event_message",
]
"""Letta's ``MessageType``: what ``include_return_message_types`` may name."""

NOT_SERVED = {
    "return_token_ids": "this server does not return token ids; send without return_token_ids",
}
"""What to do instead of the per-request options ``SendMessages`` refuses."""


class SendMessages(Body):
    messages: list[MessageCreate | ApprovalCreate | ToolReturnCreate] | None = None
    input: MessageText | list[ContentPart] | None = None
    max_steps: int = Field(default=50, ge=1, le=500)
    use_assistant_message: bool = True
    stream_tokens: bool = False
    include_pings: bool = True
    # On POST /messages: answer as server-sent events, as /messages/stream does.
    streaming: bool = False
    # Letta's per-request options: each holds for this request only (runtime/turn_options.py),
    # and one Engram cannot serve is refused naming it, never ignored.
    client_tools: list[ClientToolSchema] | None = None
    # This request's model (a handle, provider/model) and system prompt instead of the
    # agent's; the agent itself does not change.
    override_model: str | None = Field(default=None, min_length=1)
    override_system: MessageText | None = None
    include_return_message_types: list[MessageType] | None = None
    # Log probabilities of the last model call's output, on POST /messages (docs/api.md).
    return_logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    # Letta's option Engram does not serve: a request that sets it is refused, naming it.
    return_token_ids: bool = False
    # Reasoning for this request: "false" turns it off, "true" on where the model has a
    # switch; unset, the agent's own settings (docs/api.md). Letta types it as a string.
    enable_thinking: bool | None = None
    # Skills the client's environment offers, listed in this request's prompt.
    client_skills: list[ClientSkillSchema] | None = Field(default=None, max_length=200)
    # A fold of the window during the turn shows as Letta's event and summary messages.
    include_compaction_messages: bool = False
    # On /messages/async: where the finished run is posted (docs/api.md).
    callback_url: str | None = Field(default=None, min_length=1, max_length=2048)

    @field_validator("input", mode="after")
    @classmethod
    def _input_size(cls, value: str | list[ContentPart] | None) -> str | list[ContentPart] | None:
        if isinstance(value, list):
            texts = [part.text for part in value if isinstance(part, TextPart)]
            check_length(sum(len(text) + 1 for text in texts) - 1, "message_chars")
        return value

    @field_validator("client_tools", mode="after")
    @classmethod
    def _distinct_client_tools(
        cls, tools: list[ClientToolSchema] | None
    ) -> list[ClientToolSchema] | None:
        _check_distinct_names([tool.name for tool in tools or []], "client tool")
        return tools

    @field_validator("callback_url", mode="after")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("a callback_url is an http:// or https:// URL")
        return url

    @field_validator("enable_thinking", mode="before")
    @classmethod
    def _thinking_switch(cls, value: Any) -> Any:
        """Letta sends the switch as a string ("true"/"false"); a JSON boolean is taken too."""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _THINKING_WORDS:
            return _THINKING_WORDS[value.strip().lower()]
        raise ValueError("enable_thinking is 'true' or 'false'")

    @field_validator("client_skills", mode="after")
    @classmethod
    def _distinct_skills(
        cls, skills: list[ClientSkillSchema] | None
    ) -> list[ClientSkillSchema] | None:
        _check_distinct_names([skill.name for skill in skills or []], "client skill")
        return skills

    @field_validator("return_token_ids")
    @classmethod
    def _not_served(cls, value: Any, info: ValidationInfo) -> Any:
        if value:
            raise ValueError(
                f"not supported by this server yet: {NOT_SERVED[str(info.field_name)]}"
            )
        return value


class CancelRuns(Body):
    run_ids: list[str] | None = None


class CreatePassage(Body):
    text: PassageText
    tags: list[str] | None = None
    created_at: str | None = None


class CompactionRequest(Body):
    """``POST /v1/agents/{agent_id}/summarize`` and ``POST /v1/conversations/{id}/compact``:
    settings for this fold only."""

    compaction_settings: CompactionSettingsBody | None = None

    def settings(self) -> dict[str, Any] | None:
        """Only what the client set, so the agent's own settings fill the rest."""
        sent = self.compaction_settings
        return sent.model_dump(exclude_unset=True) if sent is not None else None


class ResetMessages(Body):
    add_default_initial_messages: bool = False


def _check_distinct_names(names: list[str], kind: str) -> None:
    """ValueError (a 422 naming the field) for the first name given twice."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{kind} '{name}' is declared twice")
        seen.add(name)
