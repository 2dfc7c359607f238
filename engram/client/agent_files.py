"""``client.agents.export_file`` and ``client.agents.import_file``: agent files.

    text = client.agents.export_file(agent.id)            # the .af document, as text
    Path("agent.af").write_text(text)
    made = client.agents.import_file(file="agent.af")     # a path, bytes or a binary file
    made.agent_ids

The text is what the REST export answers, byte for byte but for the time it was made.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Annotated, Any, BinaryIO, cast

from pydantic import Field

from engram.api import serialize
from engram.client.checks import checked
from engram.client.models import WireModel
from engram.client.resource import Resource
from engram.errors import InvalidInput
from engram.ops import agent_files

# What ``import_file`` reads: a path, the document's bytes or text, a binary file, or
# letta-client's ``(filename, content[, media type])`` tuple around one of those.
FileSource = str | os.PathLike[str] | bytes | IO[bytes] | tuple[Any, ...]
_Name = Annotated[str | None, Field(max_length=255)]


class ImportedAgents(WireModel):
    """Letta's ``ImportedAgentsResponse``; Engram adds ``created_tools``,
    ``replaced_tools``, ``kept_tools``, ``tool_variables_without_value`` and
    ``adjustments`` (each part of the file left out or changed)."""

    agent_ids: list[str]


class AgentFileMethods(Resource):
    """Mixed into ``client.agents``."""

    async def export_file(
        self,
        agent_id: str,
        *,
        conversation_id: str | None = None,
        max_steps: int = 100,
        scrub_messages: bool = False,
        use_legacy_format: bool = False,
        include_secrets: bool = False,
    ) -> str:
        """The agent as an agent-file document: its indented JSON text, as letta-client
        returns it. ``max_steps`` is accepted for compatibility (every message is
        exported); ``scrub_messages`` leaves the conversation out; ``use_legacy_format``
        writes Letta's legacy single-agent layout; ``include_secrets``
        (Engram's own) writes the tool variables' values, not only their names."""
        checked("max_steps", max_steps, int)
        options = agent_files.ExportOptions(
            scrub_messages=scrub_messages,
            include_secrets=include_secrets,
            conversation_id=conversation_id,
            use_legacy_format=use_legacy_format,
        )
        document = await agent_files.export_agent(self._services, agent_id, options)
        return agent_files.file_text(document)

    async def import_file(
        self,
        *,
        file: FileSource,
        append_copy_suffix: bool = True,
        embedding: str | None = None,
        env_vars_json: str | Mapping[str, str] | None = None,
        model: str | None = None,
        name: str | None = None,
        override_embedding_handle: str | None = None,
        override_existing_tools: bool = True,
        override_model_handle: str | None = None,
        override_name: str | None = None,
        project_id: str | None = None,
        secrets: str | Mapping[str, str] | None = None,
        strip_messages: bool = False,
        x_override_embedding_model: str | None = None,
        allow_tool_permission_changes: bool = False,
        strip_unsupported: bool = False,
    ) -> ImportedAgents:
        """Create the file's agents anew, with fresh ids, in one transaction.

        ``file`` is a path, the document's bytes, a binary file object, or a ``str``: a
        path, unless it opens with ``{`` (then it is the document's text, as
        ``export_file`` returns it, or that text encoded once more as a JSON string).
        ``strip_unsupported`` imports a file with parts this server cannot hold yet by
        leaving them out (listed in ``adjustments``); without it such a file is an
        InvalidInput naming them. ``secrets`` (and Letta's older ``env_vars_json``) give
        the tool variables' values, as a JSON object text or a mapping. ``project_id`` is
        accepted and unused. A bad file or option raises InvalidInput naming it, and
        nothing is created."""
        options = agent_files.ImportOptions(
            name=checked("name", name, _Name) or checked("override_name", override_name, _Name),
            append_copy_suffix=append_copy_suffix,
            model=model or override_model_handle,
            embedding=embedding or override_embedding_handle or x_override_embedding_model,
            override_existing_tools=override_existing_tools,
            allow_tool_permission_changes=allow_tool_permission_changes,
            strip_messages=strip_messages,
            strip_unsupported=strip_unsupported,
            # With both, ``secrets`` (the current name) win on a clash.
            secrets={
                **agent_files.tool_variables("env_vars_json", env_vars_json),
                **agent_files.tool_variables("secrets", secrets),
            },
        )
        with _opened(file) as source:
            result = await agent_files.import_agents(self._services, source, options)
        return ImportedAgents.model_validate(serialize.imported_agents(result))


@contextlib.contextmanager
def _opened(file: FileSource) -> Iterator[bytes | str | BinaryIO]:
    """What the import reads, opening (and then closing) a file named by path."""
    if isinstance(file, tuple):
        if len(file) < 2:
            raise InvalidInput("file", "a tuple is (filename, content[, media type])")
        file = file[1]
    if isinstance(file, str) and file.lstrip().startswith(("{", '"')):
        yield file
    elif isinstance(file, str | os.PathLike):
        path = Path(file).expanduser()
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise InvalidInput("file", f"cannot read '{path}': {exc.strerror}") from None
        with handle:
            yield cast(BinaryIO, handle)
    elif isinstance(file, bytes | bytearray):
        yield bytes(file)
    elif hasattr(file, "read"):
        yield cast(BinaryIO, file)
    else:
        raise InvalidInput(
            "file", f"expected a path, bytes or a binary file, got {type(file).__name__}"
        )
