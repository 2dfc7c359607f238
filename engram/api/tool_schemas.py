"""Request bodies of the tool routes, validated at the edge and turned into the plain
dataclasses ``engram.ops.tools`` takes. The in-process client validates its arguments
with the same models, so both report a bad field the same way."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from engram.api.schemas import MAX_CHARS, Body
from engram.ops.tool_search import ToolSearch
from engram.ops.tools import (
    NAME_PATTERN,
    VERSION_PATTERN,
    SourceRun,
    ToolChanges,
    ToolSpec,
)

# Source beyond this is not a tool but an upload; refuse it before parsing.
MAX_SOURCE_CHARS = 1_000_000


class Requirement(Body):
    # Plain names and versions only: nothing here may reach pip as an option or a path.
    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    version: str | None = Field(default=None, max_length=100, pattern=VERSION_PATTERN)


class ToolCreate(Body):
    source_code: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS)
    description: str | None = None
    tags: list[str] | None = None
    source_type: str = "python"
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    return_char_limit: int = Field(default=50_000, ge=1, le=MAX_CHARS)
    pip_requirements: list[Requirement] | None = None
    npm_requirements: list[Requirement] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = False

    def spec(self) -> ToolSpec:
        return ToolSpec(**self.model_dump())


class ToolUpdate(Body):
    source_code: str | None = Field(default=None, min_length=1, max_length=MAX_SOURCE_CHARS)
    description: str | None = None
    tags: list[str] | None = None
    source_type: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    return_char_limit: int | None = Field(default=None, ge=1, le=MAX_CHARS)
    pip_requirements: list[Requirement] | None = None
    npm_requirements: list[Requirement] | None = None
    metadata_: dict[str, Any] | None = None
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = None

    def changes(self) -> ToolChanges:
        """Only the fields the request set; ``metadata_`` is the wire name of ``metadata``."""
        sent = self.model_dump(exclude_unset=True)
        if "metadata_" in sent:
            sent["metadata"] = sent.pop("metadata_")
        return ToolChanges(**sent, sent=frozenset(sent))


class ToolRunFromSource(Body):
    source_code: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS)
    args: dict[str, Any] = Field(default_factory=dict)
    env_vars: dict[str, str] = Field(default_factory=dict)
    name: str | None = None
    source_type: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    pip_requirements: list[Requirement] | None = None
    npm_requirements: list[Requirement] | None = None

    def request(self) -> SourceRun:
        return SourceRun(
            source_code=self.source_code,
            args=self.args,
            env_vars=self.env_vars,
            name=self.name,
            source_type=self.source_type,
            json_schema=self.json_schema,
            pip_requirements=_dumped(self.pip_requirements),
            npm_requirements=_dumped(self.npm_requirements),
        )


def _dumped(requirements: list[Requirement] | None) -> list[dict[str, Any]] | None:
    return [item.model_dump() for item in requirements] if requirements else None


class ToolExecuteRequest(Body):
    args: dict[str, Any] = Field(default_factory=dict)


class ToolSearchRequest(Body):
    """Letta's ``ToolSearchRequest``."""

    query: str | None = None
    search_mode: Literal["vector", "fts", "hybrid"] = "hybrid"
    tool_types: list[str] | None = None
    tags: list[str] | None = None
    limit: int = Field(default=50, ge=1, le=100)

    def search(self) -> ToolSearch:
        return ToolSearch(
            query=self.query,
            search_mode=self.search_mode,
            tool_types=self.tool_types,
            tags=self.tags,
            limit=self.limit,
        )
