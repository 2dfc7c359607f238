"""Agent files (.af): export an agent with its memory and history, import it anew.

An export answers with the document itself (indented JSON), which ``letta-client`` hands
back as the string to save; an import takes that file as multipart form data.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Query, Response, UploadFile

from engram.api import serialize
from engram.api.deps import Runtime
from engram.api.schemas import Body
from engram.ops import agent_files

router = APIRouter(tags=["agent files"])


class Skill(Body):
    name: str
    files: dict[str, Any] | None = None
    source_url: str | None = None


class ExportAgentRequest(Body):
    skills: list[Skill] = []
    conversation_id: str | None = None
    scrub_messages: bool = False
    include_secrets: bool = False  # Engram's own, as on the GET


def _file_reply(document: dict[str, Any]) -> Response:
    return Response(agent_files.file_text(document), media_type="application/json")


@router.get("/v1/agents/{agent_id}/export")
async def export_agent(
    agent_id: str,
    rt: Runtime,
    max_steps: int = 100,
    use_legacy_format: bool = False,
    conversation_id: str | None = None,
    scrub_messages: bool = False,
    include_secrets: bool = False,
) -> Response:
    """``max_steps`` is accepted for compatibility: every message is exported.
    ``use_legacy_format`` writes Letta's legacy single-agent layout.
    ``include_secrets`` (Engram's own) writes the tool variables' values into the file."""
    options = agent_files.ExportOptions(
        scrub_messages=scrub_messages,
        include_secrets=include_secrets,
        conversation_id=conversation_id,
        use_legacy_format=use_legacy_format,
    )
    return _file_reply(await agent_files.export_agent(rt, agent_id, options))


@router.post("/v1/agents/{agent_id}/export")
async def export_agent_with_skills(
    agent_id: str, rt: Runtime, body: ExportAgentRequest | None = None
) -> Response:
    body = body or ExportAgentRequest()
    options = agent_files.ExportOptions(
        scrub_messages=body.scrub_messages,
        include_secrets=body.include_secrets,
        skills=[skill.model_dump() for skill in body.skills],
        conversation_id=body.conversation_id,
    )
    return _file_reply(await agent_files.export_agent(rt, agent_id, options))


@router.post("/v1/agents/import")
async def import_agent(
    rt: Runtime,
    file: Annotated[UploadFile, File()],
    append_copy_suffix: Annotated[bool, Form()] = True,
    override_existing_tools: Annotated[bool, Form()] = True,
    allow_tool_permission_changes: Annotated[bool, Query()] = False,
    allow_tool_permission_changes_form: Annotated[
        bool, Form(alias="allow_tool_permission_changes")
    ] = False,
    strip_messages: Annotated[bool, Form()] = False,
    strip_unsupported: Annotated[bool, Query()] = False,
    strip_unsupported_form: Annotated[bool, Form(alias="strip_unsupported")] = False,
    name: Annotated[str | None, Form(max_length=255)] = None,
    override_name: Annotated[str | None, Form(max_length=255)] = None,
    model: Annotated[str | None, Form()] = None,
    override_model_handle: Annotated[str | None, Form()] = None,
    embedding: Annotated[str | None, Form()] = None,
    override_embedding_handle: Annotated[str | None, Form()] = None,
    project_id: Annotated[str | None, Form()] = None,
    secrets: Annotated[str | None, Form()] = None,
    env_vars_json: Annotated[str | None, Form()] = None,
    x_override_embedding_model: Annotated[
        str | None, Header(alias="x-override-embedding-model")
    ] = None,
) -> dict[str, Any]:
    """Create the file's agents with fresh ids. ``project_id`` is accepted and unused:
    Engram has no projects. ``allow_tool_permission_changes`` (Engram's own, a query or form
    field) lets replaced tools change their network access or packages.
    ``strip_unsupported`` (Engram's own, a query or form field) imports a file with parts
    this server cannot hold yet by leaving them out; without it such a file is a 422
    naming them. Besides Letta's ``agent_ids``, the answer names the file's tools created,
    replaced and kept, the tool variables the file names that no value was given for, and
    (``adjustments``) each part of the file left out or changed."""
    options = agent_files.ImportOptions(
        name=name or override_name,
        append_copy_suffix=append_copy_suffix,
        model=model or override_model_handle,
        embedding=embedding or override_embedding_handle or x_override_embedding_model,
        override_existing_tools=override_existing_tools,
        allow_tool_permission_changes=(
            allow_tool_permission_changes or allow_tool_permission_changes_form
        ),
        strip_messages=strip_messages,
        strip_unsupported=strip_unsupported or strip_unsupported_form,
        # With both, ``secrets`` (the current name) win on a clash.
        secrets={
            **agent_files.tool_variables("env_vars_json", env_vars_json),
            **agent_files.tool_variables("secrets", secrets),
        },
    )
    # The upload is spooled to a temporary file; it is read once, while it is decoded.
    await file.seek(0)
    return serialize.imported_agents(await agent_files.import_agents(rt, file.file, options))
