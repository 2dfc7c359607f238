"""Agent files (.af): export an agent with its memory and history, import it anew.

An export answers with the document itself (indented JSON), which ``letta-client`` hands
back as the string to save; an import takes that file as multipart form data.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Response, UploadFile

from engram.api.deps import Runtime
from engram.api.schemas import Body
from engram.errors import InvalidInput, NotFound
from engram.runtime import agent_file

router = APIRouter(tags=["agent files"])


class Skill(Body):
    name: str
    files: dict[str, Any] | None = None
    source_url: str | None = None


class ExportAgentRequest(Body):
    skills: list[Skill] = []
    conversation_id: str | None = None
    scrub_messages: bool = False


def _check_conversation(conversation_id: str | None) -> None:
    # An Engram agent has one conversation, its own history; no other id names anything.
    if conversation_id is not None:
        raise NotFound("conversation", conversation_id)


def _file_reply(document: dict[str, Any]) -> Response:
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False), media_type="application/json"
    )


@router.get("/v1/agents/{agent_id}/export")
async def export_agent(
    agent_id: str,
    rt: Runtime,
    max_steps: int = 100,
    use_legacy_format: bool = False,
    conversation_id: str | None = None,
    scrub_messages: bool = False,
) -> Response:
    """``max_steps`` is accepted for compatibility: every message is exported."""
    if use_legacy_format:
        raise InvalidInput(
            "use_legacy_format", "this server writes only the current agent file format"
        )
    _check_conversation(conversation_id)
    document = await agent_file.export_agent_file(rt, agent_id, scrub_messages=scrub_messages)
    return _file_reply(document)


@router.post("/v1/agents/{agent_id}/export")
async def export_agent_with_skills(
    agent_id: str, rt: Runtime, body: ExportAgentRequest | None = None
) -> Response:
    body = body or ExportAgentRequest()
    _check_conversation(body.conversation_id)
    document = await agent_file.export_agent_file(
        rt,
        agent_id,
        scrub_messages=body.scrub_messages,
        skills=[skill.model_dump() for skill in body.skills],
    )
    return _file_reply(document)


def _no_variables(field: str, raw: str | None) -> None:
    """Tool environment variables have nowhere to live yet: refuse them rather than drop
    them, so a tool never runs later without a variable its owner thought was set."""
    if raw is None or not raw.strip():
        return
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(field, f"not a JSON object ({exc})") from exc
    if not isinstance(parsed, dict):
        raise InvalidInput(field, "must be a JSON object of names to values")
    if parsed:
        raise InvalidInput(field, "this server does not store tool environment variables yet")


@router.post("/v1/agents/import")
async def import_agent(
    rt: Runtime,
    file: Annotated[UploadFile, File()],
    append_copy_suffix: Annotated[bool, Form()] = True,
    override_existing_tools: Annotated[bool, Form()] = True,
    strip_messages: Annotated[bool, Form()] = False,
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
) -> dict[str, list[str]]:
    """Create the file's agents with fresh ids. ``project_id`` is accepted and unused:
    Engram has no projects."""
    _no_variables("secrets", secrets)
    _no_variables("env_vars_json", env_vars_json)
    options = agent_file.ImportOptions(
        name=name or override_name,
        append_copy_suffix=append_copy_suffix,
        model=model or override_model_handle,
        embedding=embedding or override_embedding_handle or x_override_embedding_model,
        override_existing_tools=override_existing_tools,
        strip_messages=strip_messages,
    )
    # The upload is spooled to a temporary file; it is read once, while it is decoded.
    await file.seek(0)
    return {"agent_ids": await agent_file.import_agent_file(rt, file.file, options)}
