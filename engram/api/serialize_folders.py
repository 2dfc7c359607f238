"""Folders and files as the JSON shapes of Letta's wire contract: ``Folder`` (and the
older ``Source``, the same object), ``FileMetadata``, and an agent's files
(``PaginatedAgentFiles`` of ``AgentFileAttachment``)."""

from __future__ import annotations

from typing import Any

from engram.ops.files import AgentFilesPage
from engram.ops.folders import FolderStats
from engram.store import tables as t
from engram.store.tables import as_utc

# Engram has one organization; Letta's default organization id keeps its shape.
ORGANIZATION_ID = "org-00000000-0000-4000-8000-000000000000"


def _time(value: Any) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def folder(row: t.Folder) -> dict[str, Any]:
    """A folder as the contract's ``Folder``; with ``vector_db_provider`` it is also a
    valid ``Source``, the name older clients use."""
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "instructions": row.instructions,
        "metadata": row.metadata_ or {},
        "embedding_config": row.embedding_config,
        "organization_id": ORGANIZATION_ID,
        "vector_db_provider": "native",
        "created_by_id": None,
        "last_updated_by_id": None,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
    }


def file_metadata(row: t.File, *, include_content: bool = False) -> dict[str, Any]:
    """A file as the contract's ``FileMetadata``; ``content`` (the extracted text) only
    when asked for."""
    return {
        "id": row.id,
        "source_id": row.folder_id,
        "file_name": row.file_name,
        "original_file_name": row.original_file_name,
        "file_path": None,
        "file_type": row.file_type,
        "file_size": row.file_size,
        "file_creation_date": _time(row.created_at),
        "file_last_modified_date": _time(row.updated_at),
        "processing_status": row.processing_status,
        "error_message": row.error_message,
        "total_chunks": row.total_chunks,
        "chunks_embedded": row.chunks_embedded,
        "content": row.content if include_content else None,
        "organization_id": ORGANIZATION_ID,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
    }


def agent_files(page: AgentFilesPage) -> dict[str, Any]:
    """A page of an agent's files, as ``PaginatedAgentFiles``."""
    return {
        "files": [
            {
                "id": view.row.id,
                "file_id": view.file.id,
                "file_name": view.name,
                "folder_id": view.row.folder_id,
                "folder_name": view.folder_name,
                "is_open": view.row.is_open,
                "last_accessed_at": _time(view.row.last_accessed_at),
                "visible_content": page.visible.get(view.row.id),
                "start_line": view.row.start_line,
                "end_line": view.row.end_line,
            }
            for view in page.views
        ],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


def folders_metadata(found: list[FolderStats], *, detailed: bool) -> dict[str, Any]:
    """Letta's ``OrganizationSourcesStats``: counts and sizes, per folder; each file too
    when ``detailed``."""
    sources = [
        {
            "source_id": item.folder.id,
            "source_name": item.folder.name,
            "file_count": len(item.files),
            "total_size": sum(size for _, _, size in item.files),
            "files": [
                {"file_id": file_id, "file_name": name, "file_size": size}
                for file_id, name, size in item.files
            ]
            if detailed
            else [],
        }
        for item in found
    ]
    return {
        "total_sources": len(sources),
        "total_files": sum(s["file_count"] for s in sources),
        "total_size": sum(s["total_size"] for s in sources),
        "sources": sources,
    }
