"""``client.folders`` (folders, their files and agents) and an agent's folders and files
(``client.agents.folders``, ``client.agents.files``), named as letta-client names them."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from pydantic import Field

from engram.api import serialize, serialize_folders
from engram.api.folder_requests import FolderCreate, FolderUpdate
from engram.client.agent_state import AgentState
from engram.client.arguments import validated
from engram.client.models import WireModel
from engram.client.queries import _Query
from engram.client.resource import Resource
from engram.errors import InvalidInput
from engram.ops import files as file_ops
from engram.ops import folders as folder_ops

if TYPE_CHECKING:
    from engram.runtime.engine import Services

Order = Literal["asc", "desc"]
FileArgument = bytes | Path | IO[bytes] | tuple[str, Any] | tuple[str, Any, str | None]
"""What ``upload`` takes as ``file``: bytes (give ``name``), a path, a binary file object,
or letta-client's ``(filename, content[, content_type])``."""


class Folder(WireModel):
    id: str
    name: str
    description: str | None = None
    instructions: str | None = None
    metadata: dict[str, Any] | None = None
    embedding_config: dict[str, Any] | None = None
    created_at: str | None = None


class FileMetadata(WireModel):
    id: str
    source_id: str
    file_name: str | None = None
    original_file_name: str | None = None
    file_type: str | None = None
    file_size: int | None = None
    processing_status: str = "pending"
    error_message: str | None = None
    total_chunks: int | None = None
    chunks_embedded: int | None = None
    content: str | None = None


class AgentFileAttachment(WireModel):
    id: str
    file_id: str
    file_name: str
    folder_id: str
    folder_name: str
    is_open: bool
    visible_content: str | None = None
    start_line: int | None = None
    end_line: int | None = None


class PaginatedAgentFiles(WireModel):
    files: list[AgentFileAttachment]
    next_cursor: str | None = None
    has_more: bool = False


class _Listing(_Query):
    after: str | None = None
    before: str | None = None
    limit: int | None = Field(default=None, ge=1, le=1000)
    order: Order | None = None


def _folder_page(listing: _Listing, *, limit: int, order: Order) -> folder_ops.Listing:
    return folder_ops.Listing(
        listing.before,
        listing.after,
        listing.limit or limit,
        descending=(listing.order or order) == "desc",
    )


# --------------------------------------------------------------------------- folders


class AsyncFolderFiles(Resource):
    """``client.folders.files``: the files of one folder."""

    async def upload(
        self,
        folder_id: str,
        *,
        file: FileArgument,
        duplicate_handling: file_ops.DuplicateHandling | None = None,
        name: str | None = None,
    ) -> FileMetadata:
        """Store the file and return it ``pending``; it is parsed, chunked and embedded in
        the background (poll ``retrieve`` for ``processing_status``)."""
        data, filename, content_type = _read_file_argument(file, name)
        upload = file_ops.Upload(
            data=data,
            filename=filename,
            content_type=content_type,
            duplicate_handling=duplicate_handling or "suffix",
            name=name,
        )
        row = await file_ops.upload(self._services, folder_id, upload)
        return FileMetadata.model_validate(serialize_folders.file_metadata(row))

    async def list(
        self,
        folder_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        include_content: bool = False,
        limit: int | None = None,
        order: Order | None = None,
    ) -> builtins.list[FileMetadata]:
        listing = validated(_Listing, after=after, before=before, limit=limit, order=order)
        page = file_ops.Listing(
            listing.before,
            listing.after,
            listing.limit or 1000,
            descending=(listing.order or "desc") == "desc",
        )
        rows = await file_ops.list_files(
            self._services, folder_id, page, include_content=include_content
        )
        return FileMetadata.each(
            [serialize_folders.file_metadata(r, include_content=include_content) for r in rows]
        )

    async def retrieve(
        self, file_id: str, *, folder_id: str, include_content: bool = False
    ) -> FileMetadata:
        row = await file_ops.retrieve(
            self._services, folder_id, file_id, include_content=include_content
        )
        return FileMetadata.model_validate(
            serialize_folders.file_metadata(row, include_content=include_content)
        )

    async def delete(self, file_id: str, *, folder_id: str) -> None:
        await file_ops.delete(self._services, folder_id, file_id)


class AsyncFolderAgents(Resource):
    """``client.folders.agents``: the agents a folder is attached to."""

    async def list(
        self,
        folder_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int | None = None,
        order: Order | None = None,
    ) -> builtins.list[str]:
        listing = validated(_Listing, after=after, before=before, limit=limit, order=order)
        page = _folder_page(listing, limit=50, order="desc")
        return await folder_ops.agent_ids(self._services, folder_id, page)


class AsyncFolders(Resource):
    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.files = AsyncFolderFiles(services)
        self.agents = AsyncFolderAgents(services)

    async def create(
        self,
        *,
        name: str,
        description: str | None = None,
        embedding: str | None = None,
        embedding_chunk_size: int | None = None,
        embedding_config: dict[str, Any] | None = None,
        instructions: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Folder:
        """A new folder (its name unique: a taken one is a Conflict)."""
        body = validated(
            FolderCreate,
            name=name,
            description=description,
            embedding=embedding,
            embedding_chunk_size=embedding_chunk_size,
            embedding_config=embedding_config,
            instructions=instructions,
            metadata=metadata,
        )
        return Folder.model_validate(
            serialize_folders.folder(await folder_ops.create(self._services, body.spec()))
        )

    async def list(
        self,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int | None = None,
        name: str | None = None,
        order: Order | None = None,
        order_by: Literal["created_at"] | None = None,
    ) -> builtins.list[Folder]:
        listing = validated(_Listing, after=after, before=before, limit=limit, order=order)
        page = _folder_page(listing, limit=50, order="asc")
        rows = await folder_ops.list_folders(self._services, page, name=name)
        return Folder.each([serialize_folders.folder(row) for row in rows])

    async def retrieve(self, folder_id: str) -> Folder:
        return Folder.model_validate(
            serialize_folders.folder(await folder_ops.retrieve(self._services, folder_id))
        )

    async def update(
        self,
        folder_id: str,
        *,
        description: str | None = None,
        embedding_config: dict[str, Any] | None = None,
        instructions: str | None = None,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> Folder:
        body = validated(
            FolderUpdate,
            description=description,
            embedding_config=embedding_config,
            instructions=instructions,
            metadata=metadata,
            name=name,
        )
        row = await folder_ops.modify(self._services, folder_id, body.changes())
        return Folder.model_validate(serialize_folders.folder(row))

    async def delete(self, folder_id: str) -> None:
        """Delete the folder with its files and their chunks."""
        await folder_ops.delete(self._services, folder_id)


def _read_file_argument(
    file: FileArgument, name: str | None
) -> tuple[bytes, str | None, str | None]:
    """(bytes, file name, content type) of ``upload``'s ``file``."""
    if isinstance(file, tuple):
        filename, content, *rest = file
        data = content if isinstance(content, bytes) else _read(content)
        return data, filename, rest[0] if rest else None
    if isinstance(file, bytes):
        return file, name, None
    if isinstance(file, Path):
        return file.read_bytes(), file.name, None
    return _read(file), Path(str(getattr(file, "name", "") or "")).name or name, None


def _read(content: Any) -> bytes:
    if isinstance(content, Path):
        return content.read_bytes()
    data = content.read()
    if not isinstance(data, bytes):
        raise InvalidInput("file", "give the file as bytes, a path or a binary file object")
    return data


# --------------------------------------------------------------------------- agents


class AsyncAgentFolders(Resource):
    """``client.agents.folders``: the folders attached to an agent."""

    async def list(
        self,
        agent_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int | None = None,
        order: Order | None = None,
    ) -> builtins.list[Folder]:
        listing = validated(_Listing, after=after, before=before, limit=limit, order=order)
        page = _folder_page(listing, limit=100, order="desc")
        rows = await folder_ops.for_agent(self._services, agent_id, page)
        return Folder.each([serialize_folders.folder(row) for row in rows])

    async def attach(self, folder_id: str, *, agent_id: str) -> AgentState:
        """The agent sees the folder's finished files (closed); the agent as it now is."""
        found = await folder_ops.attach(self._services, agent_id, folder_id)
        return AgentState.model_validate(serialize.agent(found))

    async def detach(self, folder_id: str, *, agent_id: str) -> AgentState:
        found = await folder_ops.detach(self._services, agent_id, folder_id)
        return AgentState.model_validate(serialize.agent(found))


class AsyncAgentFiles(Resource):
    """``client.agents.files``: the agent's views of the files of its folders."""

    async def list(
        self,
        agent_id: str,
        *,
        cursor: str | None = None,
        after: str | None = None,
        is_open: bool | None = None,
        limit: int | None = None,
        before: str | None = None,
        order: Literal["asc", "desc"] | None = None,
    ) -> PaginatedAgentFiles:
        """Most recently used first, or with ``order`` by when each file was attached;
        page on with the answer's ``next_cursor`` (or ``before``/``after`` a view's id)."""
        listing = validated(_Listing, after=after, limit=limit)
        page = await file_ops.agent_files(
            self._services,
            agent_id,
            cursor=cursor or listing.after,
            limit=listing.limit or 100,
            is_open=is_open,
            before=before,
            order=order,
        )
        return PaginatedAgentFiles.model_validate(serialize_folders.agent_files(page))

    async def open(self, file_id: str, *, agent_id: str) -> builtins.list[str]:
        """Open the file; the names of the files closed to stay within max_files_open."""
        return await file_ops.open_file(self._services, agent_id, file_id)

    async def close(self, file_id: str, *, agent_id: str) -> None:
        await file_ops.close_file(self._services, agent_id, file_id)

    async def close_all(self, agent_id: str) -> builtins.list[str]:
        """Close every open file; the names of those that were open."""
        return await file_ops.close_all(self._services, agent_id)
