"""Ingesting an uploaded file in the background: parse, chunk, embed, store.

The upload answers at once with the file ``pending``; this job moves it through
``parsing`` and ``embedding`` to ``completed`` (or ``error`` with a message), setting
``total_chunks`` once the text is cut and ``chunks_embedded`` after each batch, each in a
short transaction of its own, so a client polling the file sees progress.

Every write of the job is conditional on the file's ``updated_at`` being the one the job
itself last wrote. A file deleted (or its folder) mid-job fails that check, and the job
stops at its next write with nothing left behind: the deletion removed the chunks
stored so far, and nothing more is written. The same check keeps two runs of one job
(a queue handing a job out again) from both writing: the later claim wins.

A restart resumes: on SQLite the next start queues again every file still ``pending``,
``parsing`` or ``embedding`` (``resume``); on PostgreSQL a job stopped by a shutdown goes
back to the queue (``JobNotStarted``), and one whose server died is handed out again by
the queue. A resumed job starts the file over: the chunks of the interrupted run go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from engram.errors import EngramError
from engram.jobs import JobNotStarted
from engram.memory.embeddings import Embedder, LocalEmbedder
from engram.runtime import documents
from engram.runtime.recall_index import BACKGROUND_NICENESS
from engram.store import file_views, files
from engram.store import tables as t
from engram.store.files import ChunkRow

if TYPE_CHECKING:
    from engram.config import Settings
    from engram.jobs import JobQueue
    from engram.memory.embeddings import EmbeddingRegistry
    from engram.store.db import Database

log = logging.getLogger(__name__)

INGEST_FILE_JOB = "ingest_file"
"""The job that ingests one uploaded file; its payload is ``{"file_id": ...}``."""

EMBED_BATCH = 32
"""Chunks embedded (and stored) per step of progress."""


class IngestionDeps(Protocol):
    @property
    def db(self) -> Database: ...

    @property
    def embeddings(self) -> EmbeddingRegistry: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def jobs(self) -> JobQueue: ...


class FileGone(Exception):
    """The file was deleted (or its folder), or another run of its job took it over: the
    job stops quietly."""


@dataclass
class _Work:
    """One run of the job: the file, its folder's settings, and the stamp of the job's
    last write, which every next write checks."""

    file_id: str
    file_name: str
    file_type: str | None
    folder_id: str
    archive_id: str
    embedding_config: dict[str, Any]
    chunk_tokens: int
    overlap_tokens: int
    stamp: datetime
    started: float = field(default_factory=time.monotonic)


def register_jobs(deps: IngestionDeps) -> None:
    """Tell ``deps.jobs`` how to ingest files; called once at start (``lifecycle.start``)."""
    deps.jobs.register(INGEST_FILE_JOB, partial(ingest_file, deps))


async def enqueue(jobs: JobQueue, file_id: str) -> None:
    await jobs.enqueue(INGEST_FILE_JOB, {"file_id": file_id})


async def resume(db: Database, jobs: JobQueue) -> int:
    """After a restart of an embedded database's one server: queue again every file whose
    ingestion had not ended. Returns how many."""
    pending = await db.read(files.active)
    for file_id in pending:
        await enqueue(jobs, file_id)
    if pending:
        log.info("resuming the ingestion of %d files left unfinished", len(pending))
    return len(pending)


async def ingest_file(deps: IngestionDeps, payload: dict[str, Any]) -> None:
    """Parse, chunk and embed one file; see the module's docstring."""
    file_id = str(payload["file_id"])
    # A stopping server cancels the job: the file stays where it is, and its job goes
    # back to the queue (PostgreSQL) or is queued again at the next start (SQLite).
    interrupted = f"ingestion of file '{file_id}' was interrupted"
    try:
        work, data = await _claim(deps.db, file_id)
    except FileGone:
        return
    except asyncio.CancelledError:
        raise JobNotStarted(interrupted) from None
    try:
        await _ingest(deps, work, data)
    except FileGone:
        log.info(
            "ingestion of '%s' stopped: it was deleted (or another run took it)", work.file_name
        )
    except asyncio.CancelledError:
        raise JobNotStarted(interrupted) from None
    except EngramError as exc:
        await _fail(deps.db, work, str(exc))
    except Exception as exc:
        log.exception("ingestion of '%s' failed", work.file_name)
        await _fail(deps.db, work, f"ingestion failed unexpectedly ({type(exc).__name__})")


async def _ingest(deps: IngestionDeps, work: _Work, data: bytes) -> None:
    try:
        document = await asyncio.to_thread(documents.read, data, work.file_name, work.file_type)
        chunks = await asyncio.to_thread(
            documents.chunk,
            document,
            work.embedding_config,
            chunk_tokens=work.chunk_tokens,
            overlap_tokens=work.overlap_tokens,
            local_model_dir=deps.settings.embedding_model_dir,
        )
    except documents.UnreadableFile as exc:
        await _fail(deps.db, work, str(exc))
        return
    await _write(
        deps.db,
        work,
        lambda session, stamp: files.set_state(
            session,
            work.file_id,
            updated_at=stamp,
            content=document.text,
            pages=document.pages,
            total_chunks=len(chunks),
            chunks_embedded=0,
            processing_status="embedding",
        ),
    )
    embedder = deps.embeddings.embedder_for(work.embedding_config)
    for start in range(0, len(chunks), EMBED_BATCH):
        batch = chunks[start : start + EMBED_BATCH]
        vectors = await _embed(embedder, [chunk.text for chunk in batch])
        rows = [
            ChunkRow(c.text, c.page, c.first_line, c.last_line, v)
            for c, v in zip(batch, vectors, strict=True)
        ]
        await _write(deps.db, work, partial(_store_batch, work, embedder.handle, rows, start))
    await _write(deps.db, work, partial(_complete, work))
    log.info(
        "ingested '%s' (folder %s): %s pages, %d chunks in %.1f s",
        work.file_name,
        work.folder_id,
        document.pages if document.pages is not None else "no",
        len(chunks),
        time.monotonic() - work.started,
    )


async def _claim(db: Database, file_id: str) -> tuple[_Work, bytes]:
    """Take the file for this run: its state back to ``parsing``, chunks of any earlier
    run deleted. FileGone when the file or its bytes are gone, or it has ended already."""

    def _take(session: Session) -> tuple[_Work, bytes]:
        row = files.find(session, file_id)
        if row is None or row.processing_status not in files.ACTIVE_STATUSES:
            raise FileGone(file_id)
        data = files.upload_data(session, file_id)
        folder = session.get(t.Folder, row.folder_id)
        if data is None or folder is None:
            raise FileGone(file_id)
        session.execute(delete(t.Passage).where(t.Passage.file_id == file_id))
        stamp = t.utcnow()
        session.execute(
            update(t.File)
            .execution_options(synchronize_session=False)
            .where(t.File.id == file_id)
            .values(
                processing_status="parsing",
                error_message=None,
                total_chunks=None,
                chunks_embedded=0,
                updated_at=stamp,
            )
        )
        work = _Work(
            file_id=file_id,
            file_name=row.file_name,
            file_type=row.file_type,
            folder_id=folder.id,
            archive_id=folder.archive_id,
            embedding_config=folder.embedding_config,
            chunk_tokens=folder.chunk_tokens,
            overlap_tokens=folder.chunk_overlap_tokens,
            stamp=stamp,
        )
        return work, data

    return await db.write(_take)


async def _write(db: Database, work: _Work, change: Callable[[Session, datetime], object]) -> None:
    """Run ``change`` (given the new stamp) in a transaction if the file is still this
    run's; FileGone if not."""

    def _checked(session: Session) -> datetime:
        stamp = t.utcnow()
        if not files.claim(session, work.file_id, seen=work.stamp, stamp=stamp):
            raise FileGone(work.file_id)
        change(session, stamp)
        return stamp

    work.stamp = await db.write(_checked)


def _store_batch(
    work: _Work,
    handle: str,
    rows: list[ChunkRow],
    done_before: int,
    session: Session,
    stamp: datetime,
) -> None:
    row = files.get(session, work.file_id)
    files.add_chunks(session, row, work.archive_id, handle, rows)
    files.set_state(
        session, work.file_id, updated_at=stamp, chunks_embedded=done_before + len(rows)
    )


def _complete(work: _Work, session: Session, stamp: datetime) -> None:
    files.set_state(session, work.file_id, updated_at=stamp, processing_status="completed")
    session.execute(delete(t.FileUpload).where(t.FileUpload.file_id == work.file_id))
    file_views.add_file(session, files.get(session, work.file_id))


async def _fail(db: Database, work: _Work, message: str) -> None:
    """End the file in ``error`` with ``message``; its bytes and any chunks go."""

    def _record(session: Session, stamp: datetime) -> None:
        session.execute(delete(t.Passage).where(t.Passage.file_id == work.file_id))
        session.execute(delete(t.FileUpload).where(t.FileUpload.file_id == work.file_id))
        files.set_state(
            session,
            work.file_id,
            updated_at=stamp,
            processing_status="error",
            error_message=message,
        )

    try:
        await _write(db, work, _record)
    except FileGone:
        return
    log.info("ingestion of '%s' ended in error: %s", work.file_name, message)


# --------------------------------------------------------------------------- embedding

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _local_executor() -> ThreadPoolExecutor:
    """One low-priority thread for the local model's ingestion batches, so that a large
    file does not take the CPU from request handling (as the recall indexer does)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="engram-ingest", initializer=_lower_priority
            )
        return _executor


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)


async def _embed(embedder: Embedder, texts: list[str]) -> list[list[float]]:
    if isinstance(embedder, LocalEmbedder):
        loop = asyncio.get_running_loop()
        array = await loop.run_in_executor(_local_executor(), embedder.model.embed_sync, texts)
        vectors: list[list[float]] = array.tolist()
        return vectors
    return await embedder.embed(texts)
