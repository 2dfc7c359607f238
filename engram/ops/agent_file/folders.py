"""Folders and their files in an agent file: Letta's ``sources``, ``files`` and each agent's
``source_ids`` and ``files_agents``.

An agent file carries a file's extracted text (``content``), not its bytes. An import makes
each source a new folder (a taken name gets a suffix, as Letta does, and the answer says
so), each file with text a new file of it, and queues the files' ingestion: their text is
chunked and embedded in the background as an upload's is (``runtime/ingestion.py``), under
the folder's embedding model, or the server's when it cannot run the file's. Each agent is
attached to its folders and sees their files, open where the file had them open. An export
writes the agent's folders, their files' text, and its views of them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.ids import new_id
from engram.ops.agent_file.document import MAX_CHARS, AgentFile, Name, _FilePart, _validated
from engram.ops.agent_file.embedding import usable_embedding
from engram.ops.agent_file.unsupported import Adjustment
from engram.ops.file_tools import sync_file_tools
from engram.store import file_views, folders
from engram.store import tables as t
from engram.store.tables import as_utc, utcnow

if TYPE_CHECKING:
    from engram.memory.embeddings import EmbeddingRegistry

MIN_CHUNK_TOKENS = 16
MAX_CHUNK_TOKENS = 8192


class FileSource(_FilePart):
    """Letta's SourceSchema: a folder."""

    id: str
    name: Name
    description: str | None = None
    instructions: str | None = None
    metadata: dict[str, Any] | None = None
    embedding_config: dict[str, Any] | None = None
    embedding_chunk_size: int | None = Field(default=None, ge=MIN_CHUNK_TOKENS, le=MAX_CHUNK_TOKENS)


class FileOfSource(_FilePart):
    """Letta's FileSchema: one file of a folder, with its extracted text."""

    id: str
    source_id: str
    file_name: Name | None = None
    original_file_name: Name | None = None
    file_type: Name | None = None
    content: str | None = Field(default=None, max_length=MAX_CHARS)


class FileOpened(_FilePart):
    """Letta's FileAgentSchema: how an agent had a file (open, and which lines)."""

    file_id: str
    source_id: str | None = None
    is_open: bool = False
    start_line: int | None = Field(default=None, ge=1)
    end_line: int | None = Field(default=None, ge=1)
    last_accessed_at: Any = None


@dataclass
class FolderPlan:
    """The folders and files an import writes, checked and resolved before the write."""

    sources: list[tuple[FileSource, dict[str, Any]]] = field(default_factory=list)
    files: list[FileOfSource] = field(default_factory=list)
    views: dict[str, list[FileOpened]] = field(default_factory=dict)
    attached: dict[str, list[str]] = field(default_factory=dict)
    adjustments: list[Adjustment] = field(default_factory=list)


async def plan_folders(
    embeddings: EmbeddingRegistry, document: AgentFile, embedding: str | None
) -> FolderPlan:
    """Check the file's folders, files and views; resolve each folder's embedding model
    (the ``embedding`` option's, else the file's if this server runs it, else the
    server's). Raises InvalidInput naming the first part that is wrong."""
    plan = FolderPlan()
    for i, raw in enumerate(document.sources):
        source = _validated(FileSource, raw, f"file.sources.{i}")
        config = await usable_embedding(embeddings, source.embedding_config, embedding)
        if source.embedding_config and config["handle"] != source.embedding_config.get("handle"):
            plan.adjustments.append(_reembedded(i, source, config))
        plan.sources.append((source, config))
    known = {source.id for source, _ in plan.sources}
    for i, raw in enumerate(document.files):
        item = _validated(FileOfSource, raw, f"file.files.{i}")
        if item.source_id not in known:
            raise InvalidInput(f"file.files.{i}.source_id", f"no source '{item.source_id}'")
        if item.content is None:
            said = f"file '{item.file_name or item.id}': the agent file carries no text for it"
            plan.adjustments.append(Adjustment(f"files.{i}", "left_out", said))
            continue
        plan.files.append(item)
    carried = {item.id for item in plan.files}
    for i, agent in enumerate(document.agents):
        for ref in agent.source_ids or []:
            if ref not in known:
                raise InvalidInput(f"file.agents.{i}.source_ids", f"no source '{ref}'")
        plan.attached[agent.id] = list(dict.fromkeys(agent.source_ids or []))
        views = [
            _validated(FileOpened, raw, f"file.agents.{i}.files_agents.{j}")
            for j, raw in enumerate(agent.files_agents)
        ]
        plan.views[agent.id] = [view for view in views if view.file_id in carried]
    return plan


def write_folders(
    session: Session, plan: FolderPlan, agent_ids: dict[str, str], max_open: dict[str, int]
) -> tuple[list[str], list[Adjustment]]:
    """The plan's folders and files, the agents attached with their views, in the caller's
    transaction; the new files' ids (to queue their ingestion) and the renamed folders."""
    renamed: list[Adjustment] = []
    folder_ids: dict[str, str] = {}
    for i, (source, config) in enumerate(plan.sources):
        name = _free_name(session, source.name)
        if name != source.name:
            said = f"folder '{source.name}' exists already: imported as '{name}'"
            renamed.append(Adjustment(f"sources.{i}.name", "changed", said))
        folder = folders.new_folder(
            session,
            name=name,
            embedding_config=config,
            description=source.description,
            instructions=source.instructions,
            metadata=source.metadata,
            chunk_tokens=source.embedding_chunk_size,
        )
        folder_ids[source.id] = folder.id
    file_ids = {item.id: _new_file(session, item, folder_ids, plan) for item in plan.files}
    session.flush()
    for ref, agent_id in agent_ids.items():
        attached = plan.attached.get(ref, [])
        if not attached:  # its tools stay as the file has them
            continue
        for source_ref in attached:
            folders.attach(session, agent_id, folder_ids[source_ref])
        _add_views(session, agent_id, plan.views.get(ref, []), file_ids, max_open[ref])
        sync_file_tools(session, agent_id)
    return list(file_ids.values()), renamed


def _new_file(
    session: Session, item: FileOfSource, folder_ids: dict[str, str], plan: FolderPlan
) -> str:
    text = item.content or ""
    source_name = next(source.name for source, _ in plan.sources if source.id == item.source_id)
    # Letta names a file "<folder>/<file>" in some places; the folder is implied here.
    name = (item.file_name or item.original_file_name or item.id).removeprefix(f"{source_name}/")
    row = t.File(
        id=new_id("file"),
        folder_id=folder_ids[item.source_id],
        file_name=name,
        original_file_name=item.original_file_name or name,
        file_type=item.file_type,
        file_size=len(text.encode()),
        content=text,
        processing_status="pending",
        chunks_embedded=0,
    )
    session.add(row)
    return row.id


def _add_views(
    session: Session,
    agent_id: str,
    opened: list[FileOpened],
    file_ids: dict[str, str],
    max_open: int,
) -> None:
    """A view of every file of the agent's new folders: closed, or open on the lines the
    file had open; past ``max_open`` the least recently used close."""
    session.flush()
    given = {view.file_id: view for view in opened}
    attached = set(
        session.scalars(select(t.AgentFolder.folder_id).where(t.AgentFolder.agent_id == agent_id))
    )
    for ref, file_id in file_ids.items():
        row = session.get(t.File, file_id)
        if row is None or row.folder_id not in attached:
            continue
        view = given.get(ref)
        session.add(
            t.FileAgent(
                id=new_id("file_agent"),
                agent_id=agent_id,
                file_id=file_id,
                folder_id=row.folder_id,
                is_open=bool(view and view.is_open),
                start_line=view.start_line if view and view.is_open else None,
                end_line=view.end_line if view and view.is_open else None,
                last_accessed_at=_moment(view.last_accessed_at if view else None),
            )
        )
    session.flush()
    file_views.close_extra(session, agent_id, max_open)


def _moment(value: Any) -> datetime:
    """When the file says the agent last looked at a file; now if it does not say."""
    if isinstance(value, str):
        try:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return utcnow()
    return utcnow()


def _free_name(session: Session, name: str) -> str:
    taken = session.scalar(select(t.Folder.id).where(t.Folder.name == name))
    return name if taken is None else f"{name[:246]}_{uuid.uuid4().hex[:8]}"


def _reembedded(index: int, source: FileSource, used: dict[str, Any]) -> Adjustment:
    given = source.embedding_config or {}
    name = given.get("handle") or given.get("embedding_model") or "unnamed"
    return Adjustment(
        f"sources.{index}.embedding_config",
        "changed",
        f"folder '{source.name}': embedding '{name}' replaced by '{used['handle']}'; "
        "its files are chunked and embedded with it",
    )


# --------------------------------------------------------------------------- export


def export_folders(session: Session, agent_id: str, agent_ref: str) -> dict[str, Any]:
    """The agent's folders (``sources``), their files with text (``files``), and the
    agent's ``source_ids`` and ``files_agents``, with file-local ids."""
    attached = folders.for_agent(session, agent_id)
    source_refs = {folder.id: f"source-{i}" for i, folder in enumerate(attached)}
    order = {folder.id: i for i, folder in enumerate(attached)}
    found = session.scalars(select(t.File).where(t.File.folder_id.in_(list(source_refs))))
    # In the folders' order, then as uploaded; names break ties (unique in a folder).
    rows = sorted(found, key=lambda row: (order[row.folder_id], row.created_at, row.file_name))
    file_refs = {row.id: f"file-{i}" for i, row in enumerate(rows)}
    views = [view for view in file_views.views(session, agent_id) if view.file.id in file_refs]
    views.sort(key=lambda view: file_refs[view.file.id])
    return {
        "sources": [_source(folder, source_refs[folder.id]) for folder in attached],
        "files": [_file(row, file_refs[row.id], source_refs[row.folder_id]) for row in rows],
        "source_ids": [source_refs[folder.id] for folder in attached],
        "files_agents": [
            _view(view, f"file_agent-{i}", agent_ref, file_refs, source_refs)
            for i, view in enumerate(views)
        ],
    }


def _source(folder: t.Folder, ref: str) -> dict[str, Any]:
    return {
        "id": ref,
        "name": folder.name,
        "description": folder.description,
        "instructions": folder.instructions,
        "metadata": folder.metadata_ or {},
        "embedding": folder.embedding_config.get("handle"),
        "embedding_chunk_size": folder.chunk_tokens,
        "embedding_config": folder.embedding_config,
    }


def _file(row: t.File, ref: str, source_ref: str) -> dict[str, Any]:
    return {
        "id": ref,
        "source_id": source_ref,
        "file_name": row.file_name,
        "original_file_name": row.original_file_name,
        "file_path": None,
        "file_type": row.file_type,
        "file_size": row.file_size,
        "file_creation_date": None,
        "file_last_modified_date": None,
        "processing_status": row.processing_status,
        "error_message": row.error_message,
        "total_chunks": row.total_chunks,
        "chunks_embedded": row.chunks_embedded,
        "content": row.content,
    }


def _view(
    view: file_views.FileView,
    ref: str,
    agent_ref: str,
    file_refs: dict[str, str],
    source_refs: dict[str, str],
) -> dict[str, Any]:
    row = view.row
    return {
        "id": ref,
        "agent_id": agent_ref,
        "file_id": file_refs[view.file.id],
        "source_id": source_refs[row.folder_id],
        "file_name": view.name,
        "is_open": row.is_open,
        "visible_content": None,
        "last_accessed_at": as_utc(row.last_accessed_at).isoformat(),
        "start_line": row.start_line,
        "end_line": row.end_line,
    }
