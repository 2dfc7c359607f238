"""Agent files (.af): exporting an agent as one portable document and importing a
document as new agents, each in one transaction.

How a document is read, checked and written lives in ``engram.ops.agent_file``; these are
the entry points the REST routes and the in-process client call, with their options as
plain values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from pydantic import TypeAdapter, ValidationError

from engram.errors import InvalidInput
from engram.ops.agent_file.exporting import HasWindows, export_agent_file
from engram.ops.agent_file.importing import (
    HasImport,
    ImportOptions,
    ImportResult,
    import_agent_file,
)
from engram.ops.agent_file.legacy import to_legacy
from engram.tools.variables import ToolVariables

__all__ = [
    "ExportOptions",
    "ImportOptions",
    "ImportResult",
    "export_agent",
    "file_text",
    "import_agents",
    "tool_variables",
]


@dataclass(frozen=True)
class ExportOptions:
    """How an export departs from the whole agent (the query of ``GET .../export`` or the
    body of ``POST .../export``)."""

    scrub_messages: bool = False
    # Engram's own: write the tool variables' values, not only their names.
    include_secrets: bool = False
    skills: list[dict[str, Any]] = field(default_factory=list)
    conversation_id: str | None = None
    # Letta's legacy single-agent layout rather than the current one.
    use_legacy_format: bool = False


async def export_agent(deps: HasWindows, agent_id: str, options: ExportOptions) -> dict[str, Any]:
    """The agent as an agent-file document, read from one snapshot: the current layout,
    or with ``use_legacy_format`` Letta's legacy single-agent one.

    With ``conversation_id`` the messages and summary are that conversation's (its window).
    Raises NotFound for an unknown agent, or a conversation that is not the agent's."""
    document = await export_agent_file(
        deps,
        agent_id,
        scrub_messages=options.scrub_messages,
        skills=options.skills,
        include_secrets=options.include_secrets,
        conversation_id=options.conversation_id,
    )
    return to_legacy(document) if options.use_legacy_format else document


def file_text(document: dict[str, Any]) -> str:
    """The document as the file's text: indented JSON, as an export answers it."""
    return json.dumps(document, indent=2, ensure_ascii=False)


_VARIABLES = TypeAdapter(ToolVariables)


def tool_variables(field_name: str, raw: str | Mapping[str, str] | None) -> dict[str, str]:
    """Values for the imported agents' tool variables: a JSON object of names to strings
    (as the form fields carry them), or that object already decoded. Empty gives none;
    anything else is an InvalidInput naming ``field_name``."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    parsed: Any = raw
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidInput(field_name, f"not a JSON object ({exc})") from exc
    try:
        return _VARIABLES.validate_python(parsed)
    except ValidationError as exc:
        raise InvalidInput(
            field_name,
            f"must be a JSON object of variable names to string values: {exc.errors()[0]['msg']}",
        ) from exc


async def import_agents(
    deps: HasImport, source: bytes | str | BinaryIO, options: ImportOptions
) -> ImportResult:
    """Create every agent of the file anew (fresh ids), all in one transaction, after
    checking and embedding everything first; ``source`` is read once. Parts this server
    cannot hold are refused by name, or left out and listed with ``strip_unsupported``.

    Raises InvalidInput (the file or an option is wrong), ModelNotFound, Conflict (the file
    would change an existing tool's reach) or ProviderError (passages could not be
    re-embedded); nothing is written then."""
    return await import_agent_file(deps, source, options)
