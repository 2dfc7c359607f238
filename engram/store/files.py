"""File rows of folders, the bytes of uploads still being ingested, and the chunks made of
them (passages of the folder's archive, marked with the file's id).

Deleting a file deletes its chunks in the same transaction: the chunks carry the file's
id without a foreign key (``passages.file_id``), so nothing else would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session, undefer

from engram.errors import NotFound
from engram.ids import new_id
from engram.store import tables as t
from engram.store.db import rows_changed
from engram.store.pagination import apply_cursor
from engram.store.passages import new_passage

ACTIVE_STATUSES = ("pending", "parsing", "embedding")
"""A file in one of these is still being ingested (or waits to be, after a restart)."""


@dataclass(frozen=True)
class ChunkRow:
    """One chunk ready to store: its text, where it came from, and its vector."""

    text: str
    page: int | None
    first_line: int
    last_line: int
    embedding: list[float]


def new_file(
    session: Session,
    folder_id: str,
    *,
    file_name: str,
    original_file_name: str,
    file_type: str | None,
    data: bytes,
) -> t.File:
    """A pending file and its bytes, added to the session."""
    row = t.File(
        id=new_id("file"),
        folder_id=folder_id,
        file_name=file_name,
        original_file_name=original_file_name,
        file_type=file_type,
        file_size=len(data),
        processing_status="pending",
        chunks_embedded=0,
    )
    session.add(row)
    session.flush()
    session.add(t.FileUpload(file_id=row.id, data=data))
    session.flush()
    return row


def get(
    session: Session, file_id: str, *, folder_id: str | None = None, content: bool = False
) -> t.File:
    query = select(t.File).where(t.File.id == file_id)
    if folder_id is not None:
        query = query.where(t.File.folder_id == folder_id)
    if content:
        query = query.options(undefer(t.File.content))
    row = session.scalar(query)
    if row is None:
        raise NotFound("file", file_id)
    return row


def find(session: Session, file_id: str) -> t.File | None:
    return session.get(t.File, file_id)


def by_name(session: Session, folder_id: str, file_name: str) -> t.File | None:
    return session.scalar(
        select(t.File).where(t.File.folder_id == folder_id, t.File.file_name == file_name)
    )


def names_in(session: Session, folder_id: str) -> set[str]:
    return set(session.scalars(select(t.File.file_name).where(t.File.folder_id == folder_id)))


def list_files(
    session: Session,
    folder_id: str,
    *,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
    content: bool = False,
) -> list[t.File]:
    query = select(t.File).where(t.File.folder_id == folder_id)
    if content:
        query = query.options(undefer(t.File.content))
    query = apply_cursor(
        session,
        query,
        model=t.File,
        order_column=t.File.created_at,
        kind="file",
        before=before,
        after=after,
        limit=limit,
        descending=descending,
    )
    return list(session.scalars(query))


def delete_file(session: Session, file_id: str) -> None:
    """The file, its chunks, its upload's bytes and every agent's view of it."""
    lock(session, [file_id])
    session.execute(delete(t.Passage).where(t.Passage.file_id == file_id))
    session.execute(delete(t.FileAgent).where(t.FileAgent.file_id == file_id))
    session.execute(delete(t.FileUpload).where(t.FileUpload.file_id == file_id))
    session.execute(delete(t.File).where(t.File.id == file_id))


def upload_data(session: Session, file_id: str) -> bytes | None:
    return session.scalar(select(t.FileUpload.data).where(t.FileUpload.file_id == file_id))


def set_state(session: Session, file_id: str, *, updated_at: datetime, **values: Any) -> None:
    """Change the file's ingestion columns. ``updated_at`` is explicit: the ingestion job
    checks it to know the file is still its own (``claim``)."""
    session.execute(
        update(t.File)
        .execution_options(synchronize_session=False)
        .where(t.File.id == file_id)
        .values(**values, updated_at=updated_at)
    )


def claim(session: Session, file_id: str, *, seen: datetime, stamp: datetime) -> bool:
    """Stamp the file with ``stamp`` if its stamp is still ``seen``: False when the file
    is gone or someone else stamped it since."""
    changed = rows_changed(
        session,
        update(t.File)
        .execution_options(synchronize_session=False)
        .where(t.File.id == file_id, t.File.updated_at == seen)
        .values(updated_at=stamp),
    )
    return changed > 0


def lock(session: Session, file_ids: Select[Any] | list[str]) -> None:
    """Wait for, then hold, the rows of these files (PostgreSQL; SQLite has one writer):
    a deletion waits for an ingestion batch in flight, then sees its chunks to delete."""
    session.execute(select(t.File.id).where(t.File.id.in_(file_ids)).with_for_update()).all()


def add_chunks(
    session: Session,
    file: t.File,
    archive_id: str,
    embedding_handle: str,
    chunks: list[ChunkRow],
) -> None:
    """Store chunks of ``file`` as passages of the folder's archive."""
    rows = []
    for chunk in chunks:
        row = new_passage(
            archive_id=archive_id,
            text_=chunk.text,
            embedding=chunk.embedding,
            embedding_handle=embedding_handle,
            metadata={
                "file_id": file.id,
                "file_name": file.file_name,
                "page": chunk.page,
                "first_line": chunk.first_line,
                "last_line": chunk.last_line,
            },
        )
        row.file_id = file.id
        rows.append(row)
    session.add_all(rows)


def active(session: Session) -> list[str]:
    """Files whose ingestion has not ended, oldest first."""
    return list(
        session.scalars(
            select(t.File.id)
            .where(t.File.processing_status.in_(ACTIVE_STATUSES))
            .order_by(t.File.created_at, t.File.id)
        )
    )
