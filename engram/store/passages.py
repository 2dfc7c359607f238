"""Archival memory rows: insert, list, delete, and vector or keyword lookup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, text
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.ids import new_id
from engram.store import tables as t
from engram.store.messages import fts_query, sqlite_time
from engram.store.vectors import to_blob


def new_passage(
    *,
    agent_id: str,
    text_: str,
    embedding: list[float],
    embedding_handle: str,
    tags: list[str] | None = None,
    created_at: datetime | None = None,
    run_id: str | None = None,
    step_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> t.Passage:
    passage = t.Passage(
        id=new_id("passage"),
        agent_id=agent_id,
        text=text_,
        tags=sorted(set(tags or [])),
        metadata_=metadata or {},
        embedding_handle=embedding_handle,
        embedding_dim=len(embedding),
        embedding=to_blob(embedding),
        run_id=run_id,
        step_id=step_id,
    )
    if created_at is not None:
        passage.created_at = created_at
    return passage


def get(session: Session, agent_id: str, passage_id: str) -> t.Passage:
    passage = session.scalar(
        select(t.Passage).where(t.Passage.id == passage_id, t.Passage.agent_id == agent_id)
    )
    if passage is None:
        raise NotFound("passage", passage_id)
    return passage


def delete_one(session: Session, agent_id: str, passage_id: str) -> None:
    get(session, agent_id, passage_id)
    session.execute(delete(t.Passage).where(t.Passage.id == passage_id))


def count_query(agent_id: str) -> Select[tuple[int]]:
    return select(func.count()).select_from(t.Passage).where(t.Passage.agent_id == agent_id)


def count(session: Session, agent_id: str) -> int:
    return int(session.scalar(count_query(agent_id)) or 0)


def list_passages(
    session: Session,
    agent_id: str,
    *,
    before: str | None,
    after: str | None,
    limit: int | None,
    ascending: bool,
    search: str | None,
) -> list[t.Passage]:
    query = select(t.Passage).where(t.Passage.agent_id == agent_id)
    if search:
        query = query.where(t.Passage.text.ilike(f"%{search}%"))
    for cursor, is_before in ((before, True), (after, False)):
        if cursor is None:
            continue
        anchor = session.scalar(
            select(t.Passage.seq).where(t.Passage.id == cursor, t.Passage.agent_id == agent_id)
        )
        if anchor is None:
            raise NotFound("passage", cursor)
        earlier = is_before == ascending
        query = query.where(t.Passage.seq < anchor if earlier else t.Passage.seq > anchor)
    query = query.order_by(t.Passage.seq if ascending else t.Passage.seq.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def by_seqs(session: Session, seqs: list[int]) -> dict[int, t.Passage]:
    if not seqs:
        return {}
    rows = session.scalars(select(t.Passage).where(t.Passage.seq.in_(seqs)))
    return {row.seq: row for row in rows}


@dataclass(frozen=True)
class PassageFilter:
    """Restrictions applied before ranking, so a rare tag is found among many better matches."""

    tags: tuple[str, ...] = ()
    match_all_tags: bool = False
    start: datetime | None = None
    end: datetime | None = None

    @property
    def active(self) -> bool:
        return bool(self.tags or self.start or self.end)

    def sql(self) -> tuple[list[str], dict[str, object]]:
        clauses: list[str] = []
        params: dict[str, object] = {}
        if self.tags:
            names = [f"tag{i}" for i in range(len(self.tags))]
            params.update(zip(names, self.tags, strict=True))
            wanted = ", ".join(":" + name for name in names)
            matched = (
                "SELECT count(DISTINCT je.value) FROM json_each(passages.tags) AS je "
                f"WHERE je.value IN ({wanted})"
            )
            needed = len(set(self.tags)) if self.match_all_tags else 1
            clauses.append(f"({matched}) >= {needed}")
        if self.start is not None:
            clauses.append("passages.created_at >= :start")
            params["start"] = sqlite_time(self.start)
        if self.end is not None:
            clauses.append("passages.created_at <= :end")
            params["end"] = sqlite_time(self.end)
        return clauses, params


def filtered_seqs(session: Session, agent_id: str, where: PassageFilter) -> set[int]:
    clauses, params = where.sql()
    rows = session.execute(
        text(
            "SELECT passages.seq FROM passages WHERE passages.agent_id = :agent AND "
            + " AND ".join(clauses)
        ),
        {**params, "agent": agent_id},
    )
    return {int(row[0]) for row in rows}


def keyword_seqs(
    session: Session,
    agent_id: str,
    query: str,
    limit: int,
    where: PassageFilter = PassageFilter(),
) -> list[int]:
    """Passage seqs matching ``query`` by full text and ``where``, best first."""
    match = fts_query(query)
    if match is None:
        return []
    clauses, params = where.sql()
    rows = session.execute(
        text(
            "SELECT passages.seq FROM passages_fts JOIN passages "
            "ON passages.seq = passages_fts.rowid "
            "WHERE passages_fts MATCH :match AND passages.agent_id = :agent "
            + "".join(f"AND {clause} " for clause in clauses)
            + "ORDER BY bm25(passages_fts) LIMIT :limit"
        ),
        {**params, "match": match, "agent": agent_id, "limit": limit},
    )
    return [int(row[0]) for row in rows]
