"""Folders of uploaded files, the files in them, and the folders and files of agents.

Letta 0.16.8 still served the older names of these operations (``/v1/sources/...``,
``/v1/agents/{id}/sources/...``), deprecated; each is served here too, by the same
function, so older clients keep working.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, UploadFile

from engram.api import serialize, serialize_folders
from engram.api.deps import Limit, Runtime
from engram.api.folder_requests import FolderCreate, FolderUpdate
from engram.ops import files as file_ops
from engram.ops import folders as folder_ops

router = APIRouter(tags=["folders"])

Order = Literal["asc", "desc"]
OrderBy = Literal["created_at"]
IncludeContent = Annotated[
    bool, Query(description="Also answer each file's extracted text, as 'content'.")
]

# --------------------------------------------------------------------------- folders


@router.get("/v1/folders/")
@router.get("/v1/sources/", deprecated=True)
async def list_folders(
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Order = "asc",
    order_by: OrderBy = "created_at",
    name: str | None = None,
) -> list[dict[str, Any]]:
    page = folder_ops.Listing(before, after, limit, descending=order == "desc")
    rows = await folder_ops.list_folders(rt, page, name=name)
    return [serialize_folders.folder(row) for row in rows]


@router.post("/v1/folders/")
@router.post("/v1/sources/", deprecated=True)
async def create_folder(body: FolderCreate, rt: Runtime) -> dict[str, Any]:
    return serialize_folders.folder(await folder_ops.create(rt, body.spec()))


@router.get("/v1/folders/count")
@router.get("/v1/sources/count", deprecated=True)
async def count_folders(rt: Runtime) -> int:
    return await folder_ops.count(rt)


@router.get("/v1/folders/metadata")
@router.get("/v1/sources/metadata", deprecated=True)
async def retrieve_metadata(
    rt: Runtime, include_detailed_per_source_metadata: bool = False
) -> dict[str, Any]:
    """How many folders and files there are and their sizes, per folder."""
    found = await folder_ops.stats(rt)
    return serialize_folders.folders_metadata(found, detailed=include_detailed_per_source_metadata)


@router.get("/v1/folders/name/{folder_name}", deprecated=True)
@router.get("/v1/sources/name/{folder_name}", deprecated=True)
async def folder_id_by_name(folder_name: str, rt: Runtime) -> str:
    """The id of the folder of that name (404 if none)."""
    return await folder_ops.id_by_name(rt, folder_name)


@router.get("/v1/folders/{folder_id}")
@router.get("/v1/sources/{folder_id}", deprecated=True)
async def retrieve_folder(folder_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize_folders.folder(await folder_ops.retrieve(rt, folder_id))


@router.patch("/v1/folders/{folder_id}")
@router.patch("/v1/sources/{folder_id}", deprecated=True)
async def modify_folder(folder_id: str, body: FolderUpdate, rt: Runtime) -> dict[str, Any]:
    return serialize_folders.folder(await folder_ops.modify(rt, folder_id, body.changes()))


@router.delete("/v1/folders/{folder_id}")
@router.delete("/v1/sources/{folder_id}", deprecated=True)
async def delete_folder(folder_id: str, rt: Runtime) -> None:
    """Delete the folder with its files and their chunks; agents lose only it."""
    await folder_ops.delete(rt, folder_id)


@router.get("/v1/folders/{folder_id}/agents")
@router.get("/v1/sources/{folder_id}/agents", deprecated=True)
async def list_agents_for_folder(
    folder_id: str,
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
    order: Order = "desc",
    order_by: OrderBy = "created_at",
) -> list[str]:
    page = folder_ops.Listing(before, after, limit, descending=order == "desc")
    return await folder_ops.agent_ids(rt, folder_id, page)


@router.get("/v1/folders/{folder_id}/passages")
@router.get("/v1/sources/{folder_id}/passages", deprecated=True)
async def list_folder_passages(
    folder_id: str,
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 100,
    order: Order = "desc",
    order_by: OrderBy = "created_at",
) -> list[dict[str, Any]]:
    """The chunks of the folder's files, each with its file and where in it it came from
    (``metadata``: ``file_name``, ``page``, ``first_line``, ``last_line``)."""
    page = folder_ops.Listing(before, after, limit, descending=order == "desc")
    folder, rows = await folder_ops.passages(rt, folder_id, page)
    return [serialize.folder_chunk(row, folder) for row in rows]


# --------------------------------------------------------------------------- files


@router.post("/v1/folders/{folder_id}/upload")
@router.post("/v1/sources/{folder_id}/upload", deprecated=True)
async def upload_file_to_folder(
    folder_id: str,
    rt: Runtime,
    file: Annotated[UploadFile, File(description="The document to add to the folder.")],
    duplicate_handling: file_ops.DuplicateHandling = "suffix",
    name: str | None = None,
) -> dict[str, Any]:
    """Store the file and answer at once with it ``pending``; parsing, chunking and
    embedding go on in the background (poll the file for ``processing_status``)."""
    upload = file_ops.Upload(
        data=await file.read(),
        filename=file.filename,
        content_type=file.content_type,
        duplicate_handling=duplicate_handling,
        name=name,
    )
    return serialize_folders.file_metadata(await file_ops.upload(rt, folder_id, upload))


@router.get("/v1/folders/{folder_id}/files")
@router.get("/v1/sources/{folder_id}/files", deprecated=True)
async def list_files_for_folder(
    folder_id: str,
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 1000,
    order: Order = "desc",
    order_by: OrderBy = "created_at",
    include_content: IncludeContent = False,
) -> list[dict[str, Any]]:
    page = file_ops.Listing(before, after, limit, descending=order == "desc")
    rows = await file_ops.list_files(rt, folder_id, page, include_content=include_content)
    return [serialize_folders.file_metadata(row, include_content=include_content) for row in rows]


@router.get("/v1/folders/{folder_id}/files/{file_id}")
@router.get("/v1/sources/{folder_id}/files/{file_id}", deprecated=True)
async def retrieve_file(
    folder_id: str, file_id: str, rt: Runtime, include_content: IncludeContent = False
) -> dict[str, Any]:
    row = await file_ops.retrieve(rt, folder_id, file_id, include_content=include_content)
    return serialize_folders.file_metadata(row, include_content=include_content)


@router.delete("/v1/folders/{folder_id}/{file_id}")
@router.delete("/v1/sources/{folder_id}/{file_id}", deprecated=True)
async def delete_file_from_folder(folder_id: str, file_id: str, rt: Runtime) -> None:
    """Delete the file and its chunks; its ingestion, if running, stops."""
    await file_ops.delete(rt, folder_id, file_id)


# --------------------------------------------------------------------------- agents


@router.get("/v1/agents/{agent_id}/folders")
@router.get("/v1/agents/{agent_id}/sources", deprecated=True)
async def list_folders_for_agent(
    agent_id: str,
    rt: Runtime,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 100,
    order: Order = "desc",
    order_by: OrderBy = "created_at",
) -> list[dict[str, Any]]:
    page = folder_ops.Listing(before, after, limit, descending=order == "desc")
    rows = await folder_ops.for_agent(rt, agent_id, page)
    return [serialize_folders.folder(row) for row in rows]


@router.patch("/v1/agents/{agent_id}/folders/attach/{folder_id}")
@router.patch("/v1/agents/{agent_id}/sources/attach/{folder_id}", deprecated=True)
async def attach_folder_to_agent(agent_id: str, folder_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await folder_ops.attach(rt, agent_id, folder_id))


@router.patch("/v1/agents/{agent_id}/folders/detach/{folder_id}")
@router.patch("/v1/agents/{agent_id}/sources/detach/{folder_id}", deprecated=True)
async def detach_folder_from_agent(agent_id: str, folder_id: str, rt: Runtime) -> dict[str, Any]:
    return serialize.agent(await folder_ops.detach(rt, agent_id, folder_id))


@router.get("/v1/agents/{agent_id}/files")
async def list_files_for_agent(
    agent_id: str,
    rt: Runtime,
    cursor: str | None = None,
    limit: Limit = 100,
    is_open: bool | None = None,
    before: str | None = None,
    after: str | None = None,
    order: Order | None = None,
    order_by: OrderBy = "created_at",
) -> dict[str, Any]:
    """The agent's files, most recently used first, or with ``order`` by when each was
    attached (``order_by`` has one value, ``created_at``); page on with ``next_cursor``."""
    page = await file_ops.agent_files(
        rt,
        agent_id,
        cursor=cursor or after,
        limit=limit,
        is_open=is_open,
        before=before,
        order=order,
    )
    return serialize_folders.agent_files(page)


@router.patch("/v1/agents/{agent_id}/files/close-all")
async def close_all_files_for_agent(agent_id: str, rt: Runtime) -> list[str]:
    """Close every open file; the names of those that were open."""
    return await file_ops.close_all(rt, agent_id)


@router.patch("/v1/agents/{agent_id}/files/{file_id}/open")
async def open_file_for_agent(agent_id: str, file_id: str, rt: Runtime) -> list[str]:
    """Open the file; the names of the files closed to stay within ``max_files_open``."""
    return await file_ops.open_file(rt, agent_id, file_id)


@router.patch("/v1/agents/{agent_id}/files/{file_id}/close")
async def close_file_for_agent(agent_id: str, file_id: str, rt: Runtime) -> None:
    await file_ops.close_file(rt, agent_id, file_id)
