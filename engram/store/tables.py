"""The schema. Every change here comes with a migration under ``store/migrations``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engram.store.embedding_type import Embedding


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A naive datetime is taken to be UTC already."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored in UTC, always returned timezone-aware, on both dialects.

    SQLite keeps no offset and hands back naive values; converting at this one boundary
    keeps naive/aware comparisons out of the rest of the code.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value).astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value) if value is not None else None


# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
SeqInteger = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    system: Mapped[str] = mapped_column(Text)
    agent_type: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    llm_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    embedding_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    context_window_limit: Mapped[int | None] = mapped_column(Integer)
    tool_rules: Mapped[list[Any] | None] = mapped_column(JSON)
    # When and how far the window is folded (trigger/target fractions, turns kept verbatim);
    # None means the server's defaults. See ``runtime/folding.py``.
    compaction_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Recall assist: searches memory with each user message and shows the top hits in the
    # prompt, within a token budget. None means off.
    recall_assist: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Variables a custom tool's sandboxed child gets (Letta's tool_exec_environment_variables
    # and secrets, merged); nothing else of the server's environment reaches it.
    tool_env: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The in-context window is every message with seq > window_start_seq, in order; eviction
    # only moves this cursor, so history is never rewritten.
    window_start_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    summary: Mapped[str] = mapped_column(Text, default="")
    summary_tokens: Mapped[int] = mapped_column(Integer, default=0)
    last_run_completion: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_run_duration_ms: Mapped[int | None] = mapped_column(Integer)
    last_stop_reason: Mapped[str | None] = mapped_column(String(64))
    # Files of attached folders in the prompt: how many may be open at once, and how many
    # characters of each open file's window are shown. None means the server's defaults.
    max_files_open: Mapped[int | None] = mapped_column(Integer)
    per_file_view_window_char_limit: Mapped[int | None] = mapped_column(Integer)
    # The IANA zone the agent reads times in (its prompt, its memory tools); None is UTC.
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Letta's message_buffer_autoclear: the window is emptied after each turn, so the agent
    # keeps only its memory between turns.
    message_buffer_autoclear: Mapped[bool] = mapped_column(Boolean, default=False)
    # The messages the agent was created with (Letta's initial_message_sequence), as
    # {role, text, name, parts}: reset-messages puts them back on request.
    initial_messages: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AgentTag(Base):
    __tablename__ = "agent_tags"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class Block(Base):
    __tablename__ = "blocks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(255), index=True)
    value: Mapped[str] = mapped_column(Text)
    limit: Mapped[int] = mapped_column("char_limit", Integer)
    description: Mapped[str | None] = mapped_column(Text)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool | None] = mapped_column(Boolean)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    tags: Mapped[list[Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}


class BlockHistory(Base):
    """One change to a block's value: who made it, and what it was before and after.

    ``undone`` marks edits taken back by an undo; a redo puts them back. Undo and redo
    are recorded as rows of their own, so the log reads as what happened."""

    __tablename__ = "block_history"

    seq: Mapped[int] = mapped_column(SeqInteger, primary_key=True, autoincrement=True)
    block_id: Mapped[str] = mapped_column(ForeignKey("blocks.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # edit | undo | redo
    old_value: Mapped[str] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    actor_type: Mapped[str] = mapped_column(String(16))  # agent | user
    actor_id: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(64))
    step_id: Mapped[str | None] = mapped_column(String(64))
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = ({"sqlite_autoincrement": True},)


class AgentBlock(Base):
    __tablename__ = "agent_blocks"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    block_id: Mapped[str] = mapped_column(
        ForeignKey("blocks.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class Tool(Base):
    __tablename__ = "tools"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    tool_type: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    source_type: Mapped[str | None] = mapped_column(String(32))
    source_code: Mapped[str | None] = mapped_column(Text)
    json_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[list[Any] | None] = mapped_column(JSON)
    return_char_limit: Mapped[int] = mapped_column(Integer, default=50_000)
    pip_requirements: Mapped[list[Any] | None] = mapped_column(JSON)
    npm_requirements: Mapped[list[Any] | None] = mapped_column(JSON)
    args_json_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    default_requires_approval: Mapped[bool | None] = mapped_column(Boolean)
    enable_parallel_execution: Mapped[bool | None] = mapped_column(Boolean)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class McpServer(Base):
    """A registered MCP server: how to reach it (a command on stdio, or a streamable-HTTP
    URL) and how long a call may take. ``env``, ``auth_token`` and ``custom_headers`` hold
    secrets; the API shows them masked."""

    __tablename__ = "mcp_servers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    server_type: Mapped[str] = mapped_column(String(32))  # stdio | streamable_http
    command: Mapped[str | None] = mapped_column(Text)
    args: Mapped[list[Any] | None] = mapped_column(JSON)
    env: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    url: Mapped[str | None] = mapped_column(Text)
    auth_header: Mapped[str | None] = mapped_column(String(255))
    auth_token: Mapped[str | None] = mapped_column(Text)
    custom_headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    timeout_seconds: Mapped[float] = mapped_column(Float, default=30.0)
    # Whether the last attempt to list its tools worked; if not, what went wrong. A server
    # that could not be reached is kept, and its tools are listed when it next answers.
    reachable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AgentTool(Base):
    __tablename__ = "agent_tools"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    tool_id: Mapped[str] = mapped_column(
        ForeignKey("tools.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Message(Base):
    """One message of an agent's history; append-only, ordered by ``seq``."""

    __tablename__ = "messages"

    seq: Mapped[int] = mapped_column(SeqInteger, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text)
    # [{"id": ..., "name": ..., "arguments": "<json string>"}]
    tool_calls: Mapped[list[Any] | None] = mapped_column(JSON)
    # The provider's reasoning blocks verbatim (Anthropic thinking with its signature,
    # redacted_thinking): sent back as they came, which the API checks.
    reasoning_blocks: Mapped[list[Any] | None] = mapped_column(JSON)
    tool_call_id: Mapped[str | None] = mapped_column(String(128))
    tool_name: Mapped[str | None] = mapped_column(String(255))
    tool_status: Mapped[str | None] = mapped_column(String(16))
    # Role "approval" only: the client's answer to an approval request, as decided
    # (runtime/approvals.py): approve, approval_request_id, reason and one entry per call.
    approval: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A user message with images: every content part in order, as Letta's ``TextContent``
    # and ``ImageContent`` (``text`` still holds the text parts joined); else null.
    content_parts: Mapped[list[Any] | None] = mapped_column(JSON)
    name: Mapped[str | None] = mapped_column(String(255))
    otid: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    step_id: Mapped[str | None] = mapped_column(String(64))
    token_count: Mapped[int] = mapped_column(Integer, default=0)
    # What full-text search sees: the text, or the message a send_message call carried.
    search_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The conversation (thread) of the agent this message belongs to; None is the agent's
    # own default thread. A plain indexed id: deleting a conversation deletes its messages
    # explicitly (ops/conversations.py), so adding it altered no existing row.
    conversation_id: Mapped[str | None] = mapped_column(String(64))

    # AUTOINCREMENT: a seq is never reused, so cursors and caches keyed by seq stay valid.
    __table_args__ = (
        Index("ix_messages_agent_seq", "agent_id", "seq"),
        # A conversation's window and history: its messages in order.
        Index("ix_messages_conversation_seq", "conversation_id", "seq"),
        {"sqlite_autoincrement": True},
    )


class MessageEmbedding(Base):
    """A message's embedding, written after the message by the recall indexer.

    Kept apart from ``messages`` so that a step's transaction never waits on an embedding
    model: messages without a row here are still found by full-text search."""

    __tablename__ = "message_embeddings"

    message_seq: Mapped[int] = mapped_column(
        ForeignKey("messages.seq", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    embedding_handle: Mapped[str] = mapped_column(String(255))
    embedding_dim: Mapped[int] = mapped_column(Integer)
    embedding: Mapped[bytes] = mapped_column(Embedding, deferred=True)

    __table_args__ = (
        Index("ix_message_embeddings_agent_seq", "agent_id", "message_seq"),
        Index("ix_message_embeddings_agent_dim_seq", "agent_id", "embedding_dim", "message_seq"),
    )


class Archive(Base):
    """A named passage store with one embedding model; agents attach it to search it."""

    __tablename__ = "archives"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    embedding_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AgentArchive(Base):
    __tablename__ = "agent_archives"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    archive_id: Mapped[str] = mapped_column(
        ForeignKey("archives.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Passage(Base):
    """One archival memory item with its embedding, owned by an agent or by an archive."""

    __tablename__ = "passages"

    seq: Mapped[int] = mapped_column(SeqInteger, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    # Exactly one of agent_id and archive_id is set.
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    archive_id: Mapped[str | None] = mapped_column(ForeignKey("archives.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[Any] | None] = mapped_column(JSON)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    embedding_handle: Mapped[str] = mapped_column(String(255))
    embedding_dim: Mapped[int] = mapped_column(Integer)
    # Unit-length float32: a blob on SQLite (searched by ``store/vectors.py``), a pgvector
    # ``vector`` on PostgreSQL (searched by ``store/pg_vectors.py``). Deferred: only the
    # searches read it, with their own queries; loading a passage leaves it behind.
    embedding: Mapped[bytes] = mapped_column(Embedding, deferred=True)
    run_id: Mapped[str | None] = mapped_column(String(64))
    step_id: Mapped[str | None] = mapped_column(String(64))
    # Provenance: the message whose tool call wrote this passage. Kept as a plain id (no
    # foreign key) so deleting that message leaves the passage, marked by the time below.
    message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    source_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A chunk of an uploaded file (owned by its folder's archive): the file it came from.
    # A plain indexed id, no foreign key: deleting a file deletes its chunks explicitly,
    # in the same transaction (store/files.py).
    file_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_passages_agent_seq", "agent_id", "seq"),
        Index("ix_passages_archive_seq", "archive_id", "seq"),
        # What the in-memory vector index checks before each search: count and newest row
        # of one owner's embeddings of one size (store/vectors.py).
        Index("ix_passages_agent_dim_seq", "agent_id", "embedding_dim", "seq"),
        Index("ix_passages_archive_dim_seq", "archive_id", "embedding_dim", "seq"),
        {"sqlite_autoincrement": True},
    )


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    background: Mapped[bool] = mapped_column(Boolean, default=False)
    request_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    step_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Memory operations of the run: inserts, searches, edits, hits, hits used, thrash.
    memory_metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A queued run's turn: its input messages and max_steps, so that a turn not yet
    # started when the server stopped can run after a restart (runtime/background.py).
    turn_input: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ttft_ns: Mapped[int | None] = mapped_column(BigInteger)
    total_duration_ns: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The conversation the run's turn ran in; None: the agent's default thread.
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)


class Step(Base):
    """One LLM call and the tools it triggered."""

    __tablename__ = "steps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    model: Mapped[str | None] = mapped_column(String(255))
    model_handle: Mapped[str | None] = mapped_column(String(255))
    provider_name: Mapped[str | None] = mapped_column(String(255))
    context_window_limit: Mapped[int | None] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    # Our own count of the prompt, kept beside the provider's to watch the counter's error.
    counted_prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="success")
    duration_ms: Mapped[float | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The user's verdict on the step ("positive"/"negative") and its tags (PATCH .../feedback).
    feedback: Mapped[str | None] = mapped_column(String(16))
    feedback_tags: Mapped[list[Any] | None] = mapped_column(JSON)
    # Nanoseconds per phase of the step (runtime/step_clock.py); None on older rows.
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    conversation_id: Mapped[str | None] = mapped_column(String(64))


class AgentLease(Base):
    """Which server process runs a turn of this agent, until when (runtime/agent_gate.py)."""

    __tablename__ = "agent_leases"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Folder(Base):
    """Uploaded documents under one embedding model (Letta's folders, once "sources").

    The chunks of its files are passages of its own archive (``archive_id``), so they are
    searched by the archival search, keyword and vector, on both databases. That archive
    is the folder's: it is not listed, attached or deleted as an archive."""

    __tablename__ = "folders"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    instructions: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    embedding_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    archive_id: Mapped[str] = mapped_column(ForeignKey("archives.id"), unique=True)
    # Chunking of its files, in tokens of the embedding model (Letta's defaults: 300, 50).
    chunk_tokens: Mapped[int] = mapped_column(Integer, default=300)
    chunk_overlap_tokens: Mapped[int] = mapped_column(Integer, default=50)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class File(Base):
    """One uploaded document of a folder and where its ingestion stands.

    ``processing_status`` goes pending -> parsing -> embedding -> completed, or to error
    with ``error_message``; ``chunks_embedded`` of ``total_chunks`` shows progress."""

    __tablename__ = "files"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    folder_id: Mapped[str] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(255))
    original_file_name: Mapped[str] = mapped_column(String(255))
    file_type: Mapped[str | None] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(BigInteger)
    # The extracted text, what the file tools open and grep; set once parsed.
    content: Mapped[str | None] = mapped_column(Text, deferred=True)
    pages: Mapped[int | None] = mapped_column(Integer)
    processing_status: Mapped[str] = mapped_column(String(16), default="pending")
    error_message: Mapped[str | None] = mapped_column(Text)
    total_chunks: Mapped[int | None] = mapped_column(Integer)
    chunks_embedded: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ux_files_folder_name", "folder_id", "file_name", unique=True),
        Index("ix_files_folder_created", "folder_id", "created_at"),
    )


class FileUpload(Base):
    """The bytes of an upload, kept until its ingestion ends, so that a job interrupted by
    a restart starts again from them."""

    __tablename__ = "file_uploads"

    file_id: Mapped[str] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class AgentFolder(Base):
    __tablename__ = "agent_folders"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    folder_id: Mapped[str] = mapped_column(
        ForeignKey("folders.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FileAgent(Base):
    """An agent's view of one file of an attached folder: open or closed, and which lines
    of it an open file shows (1-based, inclusive; None: from the start / to the end)."""

    __tablename__ = "file_agents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    folder_id: Mapped[str] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"), index=True)
    is_open: Mapped[bool] = mapped_column(Boolean, default=False)
    start_line: Mapped[int | None] = mapped_column(Integer)
    end_line: Mapped[int | None] = mapped_column(Integer)
    last_accessed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ux_file_agents_agent_file", "agent_id", "file_id", unique=True),)


class Identity(Base):
    """A user, organisation or other party an integration serves, named by the integration's
    own ``identifier_key``. Agents and blocks tied to it are listed by it, so one user's
    agents can be told from another's.

    ``project_key`` is Letta's ``project_id`` with "" for none: the key is unique per project
    (and once among identities without one), which a unique index on a nullable column would
    not enforce, as it treats every null as distinct."""

    __tablename__ = "identities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    identifier_key: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    identity_type: Mapped[str] = mapped_column(String(16))  # org | user | other
    project_key: Mapped[str] = mapped_column(String(255), default="")
    # Letta's properties as given: [{"key": ..., "value": ..., "type": ...}], keys unique.
    properties: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ux_identities_project_key", "project_key", "identifier_key", unique=True),
        Index("ix_identities_created_at", "created_at"),
    )


class IdentityAgent(Base):
    __tablename__ = "identity_agents"

    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class IdentityBlock(Base):
    __tablename__ = "identity_blocks"

    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )
    block_id: Mapped[str] = mapped_column(
        ForeignKey("blocks.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Group(Base):
    """A sleep-time pairing (Letta's group with ``manager_type: "sleeptime"``): the main
    agent, the agent that tidies its memory in the background, and when it runs.

    Deleting either agent deletes the row (the foreign keys cascade): a pairing never
    outlives one of its two agents. ``archival_upkeep`` holds the near-duplicate merging
    settings of the main agent's archival memory (runtime/archival_upkeep.py); None means
    the defaults."""

    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    manager_type: Mapped[str] = mapped_column(String(32))
    manager_agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), unique=True
    )
    sleeptime_agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), unique=True
    )
    description: Mapped[str] = mapped_column(Text)
    sleeptime_agent_frequency: Mapped[int] = mapped_column(Integer)
    # Completed main-agent turns not yet handed to a sleep-time run.
    turns_counter: Mapped[int] = mapped_column(Integer, default=0)
    # The last main-agent message a completed sleep-time run has read (for display; the
    # runs' own turn_input holds the ranges, runtime/sleeptime.py).
    last_processed_message_id: Mapped[str | None] = mapped_column(String(64))
    # The main agent's history before this seq is older than the pairing: never sent.
    start_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    archival_upkeep: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Per thread of the main agent (conversation id, or "default" for its own thread): its
    # counted turns and its last sleep-time run, {"turns": n, "run_id": id}
    # (runtime/sleeptime.py). None: no turn counted since the pairing.
    threads: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Conversation(Base):
    """One thread of an agent (Letta's conversation): its own window cursor and running
    summary over the agent's shared memory. The agent's own history, with no row here, is
    its "default" conversation."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    # Letta's ``summary``: a title or description the client gives (searchable), not the
    # running summary of folded messages, which is ``fold_summary``.
    summary: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(255))
    model_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The model this conversation runs on instead of the agent's, resolved from ``model``.
    llm_config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    window_start_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    fold_summary: Mapped[str] = mapped_column(Text, default="")
    fold_summary_tokens: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_conversations_agent_created", "agent_id", "created_at"),)


class ConversationBlock(Base):
    """An isolated block: the conversation's own copy of one of the agent's blocks, which
    its turns read and edit in place of the shared one with that label."""

    __tablename__ = "conversation_blocks"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(255), primary_key=True)
    block_id: Mapped[str] = mapped_column(ForeignKey("blocks.id", ondelete="CASCADE"), unique=True)


class ConversationLease(Base):
    """Which server process runs a turn of this conversation, until when: the lease of
    ``AgentLease`` for one thread of an agent (runtime/agent_gate.py)."""

    __tablename__ = "conversation_leases"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
