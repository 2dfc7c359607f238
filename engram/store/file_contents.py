"""Reading files' extracted texts and marking files used, for the file tools and the
prompt: the text column is deferred, so texts are read in one query when needed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engram.store import tables as t
from engram.store.tables import utcnow


def contents(session: Session, file_ids: Sequence[str]) -> dict[str, str | None]:
    """The extracted text of each file, by id."""
    if not file_ids:
        return {}
    rows = session.execute(
        select(t.File.id, t.File.content).where(t.File.id.in_(list(dict.fromkeys(file_ids))))
    )
    return {file_id: content for file_id, content in rows}


def mark_used(session: Session, views: Sequence[t.FileAgent]) -> None:
    """The agent used these files now (a search found something in them): they are the
    last its open-file limit closes."""
    if not views:
        return
    session.execute(
        update(t.FileAgent)
        .where(t.FileAgent.id.in_([view.id for view in views]))
        .values(last_accessed_at=utcnow())
    )
