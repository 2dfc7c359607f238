"""Where the LLM providers are: named endpoints from environment variables and a TOML file.

Each well-known service is configured by its usual variables (``OPENAI_API_KEY``,
``ANTHROPIC_API_KEY``, ``GROQ_API_KEY``...). The config file (``ENGRAM_CONFIG``, else
``<data dir>/config.toml``) adds any number of named endpoints, and replaces an
environment one of the same name. docs/providers.md describes the format.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from engram.config import Settings
from engram.errors import EngramError

Kind = Literal["openai", "anthropic"]
ANTHROPIC_BASE_URL = "https://api.anthropic.com"


class ConfigError(EngramError):
    """The config file cannot be read or says something impossible; raised at startup.

    The message names the file and each offending key, one problem a line.
    """

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        super().__init__("\n".join(f"{path}: {key}: {problem}" for key, problem in problems))
        self.path = path
        self.problems = problems


class ModelSpec(BaseModel):
    """One model a config-file endpoint offers, with the facts the user vouches for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    context_window: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    # None: decided by the id (anything with "embed" in it is an embedding model).
    embedding: bool | None = None
    embedding_dim: int | None = Field(default=None, gt=0)


@dataclass(frozen=True)
class Endpoint:
    """One named provider: a handle ``<name>/<model>`` reaches ``model`` at ``base_url``."""

    name: str
    kind: Kind
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    # Given: the provider's model list is not fetched and these facts win over the table.
    models: tuple[ModelSpec, ...] | None = None
    # Seconds per request; None means the ``llm_timeout_seconds`` setting.
    timeout: float | None = None


@dataclass(frozen=True)
class KnownService:
    """A service Engram finds by its usual environment variables."""

    name: str
    kind: Kind
    base_url: str
    key_var: str | None
    url_var: str | None = None


KNOWN_SERVICES: tuple[KnownService, ...] = (
    KnownService(
        "openai", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL"
    ),
    KnownService(
        "anthropic", "anthropic", ANTHROPIC_BASE_URL, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"
    ),
    KnownService("openrouter", "openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    KnownService("groq", "openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    KnownService("together", "openai", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    KnownService("deepseek", "openai", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    KnownService("mistral", "openai", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    KnownService(
        "fireworks", "openai", "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY"
    ),
    KnownService("xai", "openai", "https://api.x.ai/v1", "XAI_API_KEY"),
    KnownService("ollama", "openai", "http://localhost:11434/v1", None, "OLLAMA_BASE_URL"),
)
_KNOWN = {service.name: service for service in KNOWN_SERVICES}


def load_endpoints(settings: Settings, environ: Mapping[str, str] | None = None) -> list[Endpoint]:
    """Every configured endpoint: the environment's, then the file's (same name: file wins).

    Raises ConfigError, naming the file and key, when the config file is unreadable or wrong.
    """
    # Provider variables are named by each provider (and ``api_key_env`` by the user), so
    # they cannot all be Settings fields; this is the one place that reads them.
    environ = os.environ if environ is None else environ
    overlay = {
        "OPENAI_API_KEY": settings.openai_api_key,  # Settings also takes ENGRAM_OPENAI_*
        "OPENAI_BASE_URL": settings.openai_base_url,
    }
    merged = {**environ, **{key: value for key, value in overlay.items() if value}}
    endpoints = {endpoint.name: endpoint for endpoint in from_environment(merged)}
    path = config_path(settings)
    if path is not None:
        endpoints.update((endpoint.name, endpoint) for endpoint in from_file(path, environ))
    return list(endpoints.values())


def config_path(settings: Settings) -> Path | None:
    """The config file to read: ``ENGRAM_CONFIG`` (must exist), else the data dir's, if any."""
    if settings.config_file is not None:
        if not settings.config_file.is_file():
            raise ConfigError(
                settings.config_file,
                [("ENGRAM_CONFIG", "names this file, which does not exist")],
            )
        return settings.config_file
    default = settings.data_dir / "config.toml"
    return default if default.is_file() else None


def from_environment(environ: Mapping[str, str]) -> list[Endpoint]:
    """An endpoint for each well-known service whose variables are set (empty means unset)."""
    found: list[Endpoint] = []
    for service in KNOWN_SERVICES:
        key = environ.get(service.key_var, "") if service.key_var else ""
        url = environ.get(service.url_var, "") if service.url_var else ""
        if not key and not url:
            continue
        if url and service.name == "ollama" and not url.rstrip("/").endswith("/v1"):
            # OLLAMA_BASE_URL is usually the server root; its OpenAI API lives under /v1.
            url = url.rstrip("/") + "/v1"
        found.append(Endpoint(service.name, service.kind, url or service.base_url, key or None))
    return found


class _ProviderTable(BaseModel):
    """One ``[[providers]]`` table as written in the file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Kind = "openai"
    base_url: str | None = Field(default=None, min_length=1)
    api_key: str | None = None
    api_key_env: str | None = Field(default=None, min_length=1)
    models: list[ModelSpec] | None = Field(default=None, min_length=1)
    timeout: float | None = Field(default=None, gt=0)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if not name or name != name.strip():
            raise ValueError("a provider name must be non-empty, without surrounding spaces")
        if "/" in name:
            raise ValueError(
                f"'{name}' contains '/', but handles are '<provider>/<model>': "
                "choose a name without '/'"
            )
        return name

    @field_validator("models", mode="before")
    @classmethod
    def _ids_to_tables(cls, models: object) -> object:
        if isinstance(models, list):
            return [{"id": item} if isinstance(item, str) else item for item in models]
        return models


class _ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    providers: list[_ProviderTable] = Field(default_factory=list)


def from_file(path: Path, environ: Mapping[str, str]) -> list[Endpoint]:
    """The endpoints a config file declares. Raises ConfigError naming the file and key."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("file", f"cannot be read as UTF-8 text: {exc}")]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("TOML syntax", str(exc))]) from exc
    try:
        parsed = _ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, [_problem(error) for error in exc.errors()]) from exc
    problems: list[tuple[str, str]] = []
    endpoints: list[Endpoint] = []
    first_use: dict[str, int] = {}
    for index, table in enumerate(parsed.providers):
        where = f"providers[{index}]"
        if table.name in first_use:
            problems.append(
                (
                    f"{where}.name",
                    f"'{table.name}' already names providers[{first_use[table.name]}]",
                )
            )
            continue
        first_use[table.name] = index
        endpoint = _endpoint(table, where, environ, problems)
        if endpoint is not None:
            endpoints.append(endpoint)
    if problems:
        raise ConfigError(path, problems)
    return endpoints


def _endpoint(
    table: _ProviderTable, where: str, environ: Mapping[str, str], problems: list[tuple[str, str]]
) -> Endpoint | None:
    """The endpoint a valid table describes; otherwise adds its problems and returns None."""
    count = len(problems)
    base_url = table.base_url or _default_base_url(table.name, table.kind)
    if base_url is None:
        problems.append(
            (
                f"{where}.base_url",
                f"required for provider '{table.name}': an OpenAI-compatible server's URL, "
                "such as 'http://localhost:8000/v1'",
            )
        )
    api_key = table.api_key
    if table.api_key_env is not None:
        if table.api_key is not None:
            problems.append((f"{where}.api_key_env", "give api_key or api_key_env, not both"))
        api_key = environ.get(table.api_key_env) or None
        if api_key is None:
            problems.append(
                (f"{where}.api_key_env", f"environment variable '{table.api_key_env}' is not set")
            )
    if len(problems) > count or base_url is None:
        return None
    models = tuple(table.models) if table.models is not None else None
    return Endpoint(table.name, table.kind, base_url, api_key, models, table.timeout)


def _default_base_url(name: str, kind: Kind) -> str | None:
    """Well-known names and Anthropic need no base_url; any other OpenAI-compatible one does."""
    known = _KNOWN.get(name)
    if known is not None and known.kind == kind:
        return known.base_url
    return ANTHROPIC_BASE_URL if kind == "anthropic" else None


def _problem(error: ErrorDetails) -> tuple[str, str]:
    """A pydantic error as (``providers[1].kind``, a message without pydantic's prefixes)."""
    key = ""
    for part in error["loc"]:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key; docs/providers.md lists the keys this table takes"
    return key or "file", message
