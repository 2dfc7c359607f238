"""Archival memory rows: insert, list, delete, and vector or keyword lookup.

A passage belongs to an agent or to an archive. What an agent sees is a ``Scope``: its own
passages plus those of the archives attached to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, false, func, or_, select, text, update
from sqlalchemy.orm import Session

from engram.errors import NotFound
from engram.ids import new_id
from engram.store import dialects
from engram.store import tables as t
from engram.store.db import rows_changed
from engram.store.dialects import SearchDialect
from engram.store.keyword_scores import bm25_ranked
from engram.store.messages import query_terms
from engram.store.tables import as_utc
from engram.store.vectors import to_blob


@dataclass(frozen=True)
class Scope:
    """The owners whose passages a search or listing covers. ``everything`` covers every
    agent's passages and every archive's, but not the archives holding folders' files."""

    agent_id: str | None = None
    archive_ids: tuple[str, ...] = ()
    everything: bool = False

    @property
    def owners(self) -> list[str]:
        """Agent and archive ids, as ``VectorIndex`` keys its matrices (none listed for
        ``everything``: the caller names them, grouped by embedding model)."""
        return [*([self.agent_id] if self.agent_id else []), *self.archive_ids]

    def clause(self) -> ColumnElement[bool]:
        if self.everything:
            folders = select(t.Folder.archive_id)
            return or_(t.Passage.archive_id.is_(None), t.Passage.archive_id.not_in(folders))
        clauses: list[ColumnElement[bool]] = []
        if self.agent_id is not None:
            clauses.append(t.Passage.agent_id == self.agent_id)
        if self.archive_ids:
            clauses.append(t.Passage.archive_id.in_(self.archive_ids))
        return or_(*clauses) if clauses else false()

    def sql(self) -> tuple[str, dict[str, object]]:
        """The same restriction as raw SQL on ``passages``, with its bound parameters."""
        if self.everything:
            return (
                "(passages.archive_id IS NULL"
                " OR passages.archive_id NOT IN (SELECT archive_id FROM folders))",
                {},
            )
        clauses: list[str] = []
        params: dict[str, object] = {}
        if self.agent_id is not None:
            clauses.append("passages.agent_id = :scope_agent")
            params["scope_agent"] = self.agent_id
        if self.archive_ids:
            names = [f"scope_archive{i}" for i in range(len(self.archive_ids))]
            params.update(zip(names, self.archive_ids, strict=True))
            clauses.append(f"passages.archive_id IN ({', '.join(':' + n for n in names)})")
        return "(" + (" OR ".join(clauses) or "1 = 0") + ")", params


def passage_owners(session: Session, limit: int) -> list[tuple[str, dict[str, Any]]]:
    """(owner id, embedding config) of agents and of archives (not folders') that hold
    passages, the most recently written first, at most ``limit`` of each kind. Read from
    the passages' owner indexes, one seek per owner through the agents and archives."""
    newest_agent = (
        select(func.max(t.Passage.seq)).where(t.Passage.agent_id == t.Agent.id).scalar_subquery()
    )
    agents_with = (
        select(t.Agent.id, t.Agent.embedding_config, newest_agent.label("newest"))
        .where(newest_agent.is_not(None))
        .order_by(newest_agent.desc())
        .limit(limit)
    )
    newest_archive = (
        select(func.max(t.Passage.seq))
        .where(t.Passage.archive_id == t.Archive.id)
        .scalar_subquery()
    )
    archives_with = (
        select(t.Archive.id, t.Archive.embedding_config, newest_archive.label("newest"))
        .where(newest_archive.is_not(None), t.Archive.id.not_in(select(t.Folder.archive_id)))
        .order_by(newest_archive.desc())
        .limit(limit)
    )
    rows = [*session.execute(agents_with), *session.execute(archives_with)]
    return [(row[0], row[1]) for row in rows]


def owner_configs(session: Session, owner_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The embedding config of each agent or archive among ``owner_ids``."""
    if not owner_ids:
        return {}
    ids = sorted(owner_ids)
    agents = select(t.Agent.id, t.Agent.embedding_config).where(t.Agent.id.in_(ids))
    archives = select(t.Archive.id, t.Archive.embedding_config).where(t.Archive.id.in_(ids))
    found = [*session.execute(agents), *session.execute(archives)]
    return {row[0]: row[1] for row in found}


def attached_archive_ids(agent_id: str) -> Select[str]:
    return select(t.AgentArchive.archive_id).where(t.AgentArchive.agent_id == agent_id)


def scope_of_agent(session: Session, agent_id: str) -> Scope:
    """The agent's own passages and those of every archive attached to it."""
    archive_ids = session.scalars(
        attached_archive_ids(agent_id).order_by(t.AgentArchive.archive_id)
    )
    return Scope(agent_id, tuple(archive_ids))


def _visible_to(agent_id: str) -> ColumnElement[bool]:
    """``scope_of_agent`` as one clause, for counting without a separate round trip."""
    return or_(
        t.Passage.agent_id == agent_id, t.Passage.archive_id.in_(attached_archive_ids(agent_id))
    )


def new_passage(
    *,
    agent_id: str | None = None,
    archive_id: str | None = None,
    text_: str,
    embedding: list[float],
    embedding_handle: str,
    tags: list[str] | None = None,
    created_at: datetime | None = None,
    run_id: str | None = None,
    step_id: str | None = None,
    message_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> t.Passage:
    if (agent_id is None) == (archive_id is None):
        raise ValueError("a passage belongs to exactly one agent or archive")
    passage = t.Passage(
        id=new_id("passage"),
        agent_id=agent_id,
        archive_id=archive_id,
        text=text_,
        tags=sorted(set(tags or [])),
        metadata_=metadata or {},
        embedding_handle=embedding_handle,
        embedding_dim=len(embedding),
        embedding=to_blob(embedding),
        run_id=run_id,
        step_id=step_id,
        message_id=message_id,
    )
    if created_at is not None:
        passage.created_at = created_at
    return passage


def provenance(passage: t.Passage) -> dict[str, Any]:
    """Who wrote the passage: an agent's tool call (run, step, message) or a client."""
    return {
        "written_by": "agent" if passage.step_id else "client",
        "agent_id": passage.agent_id,
        "archive_id": passage.archive_id,
        "run_id": passage.run_id,
        "step_id": passage.step_id,
        "message_id": passage.message_id,
        "message_deleted_at": (
            as_utc(passage.source_deleted_at).isoformat() if passage.source_deleted_at else None
        ),
    }


def mark_source_deleted(session: Session, message_ids: list[str], when: datetime) -> int:
    """Passages written by these messages keep their text and say their source is gone."""
    if not message_ids:
        return 0
    return rows_changed(
        session,
        update(t.Passage)
        .where(t.Passage.message_id.in_(message_ids), t.Passage.source_deleted_at.is_(None))
        .values(source_deleted_at=when),
    )


def get(session: Session, agent_id: str, passage_id: str) -> t.Passage:
    """A passage the agent sees: its own or an attached archive's."""
    return _one(session, passage_id, _visible_to(agent_id))


def get_in(session: Session, scope: Scope, passage_id: str) -> t.Passage:
    return _one(session, passage_id, scope.clause())


def _one(session: Session, passage_id: str, visible: ColumnElement[bool]) -> t.Passage:
    passage = session.scalar(select(t.Passage).where(t.Passage.id == passage_id, visible))
    if passage is None:
        raise NotFound("passage", passage_id)
    return passage


def delete_one(session: Session, agent_id: str, passage_id: str) -> None:
    get(session, agent_id, passage_id)
    session.execute(delete(t.Passage).where(t.Passage.id == passage_id))


def count_query(agent_id: str) -> Select[int]:
    """How many passages the agent sees, its attached archives' included, in one statement."""
    return select(func.count()).select_from(t.Passage).where(_visible_to(agent_id))


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
    """The agent's passages and its archives', in insertion order."""
    return list_in(
        session,
        scope_of_agent(session, agent_id),
        before=before,
        after=after,
        limit=limit,
        ascending=ascending,
        search=search,
    )


def list_in(
    session: Session,
    scope: Scope,
    *,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = None,
    ascending: bool = True,
    search: str | None = None,
    where: PassageFilter | None = None,
) -> list[t.Passage]:
    visible = scope.clause()
    query = select(t.Passage).where(visible)
    if search:
        query = query.where(t.Passage.text.icontains(search, autoescape=True))
    if where is not None and where.active:
        clauses, params = where.sql(dialects.for_session(session))
        query = query.where(text(" AND ".join(clauses)).bindparams(**params))
    for cursor, is_before in ((before, True), (after, False)):
        if cursor is None:
            continue
        anchor = session.scalar(select(t.Passage.seq).where(t.Passage.id == cursor, visible))
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

    def sql(self, dialect: SearchDialect) -> tuple[list[str], dict[str, object]]:
        clauses: list[str] = []
        params: dict[str, object] = {}
        if self.tags:
            names = [f"tag{i}" for i in range(len(self.tags))]
            params.update(zip(names, self.tags, strict=True))
            wanted = ", ".join(":" + name for name in names)
            matched = (
                "SELECT count(DISTINCT je.value) FROM "
                + dialect.json_elements("passages.tags", "je")
                + f" WHERE je.value IN ({wanted})"
            )
            needed = len(set(self.tags)) if self.match_all_tags else 1
            clauses.append(f"({matched}) >= {needed}")
        if self.start is not None:
            clauses.append("passages.created_at >= :start")
            params["start"] = dialect.moment(self.start)
        if self.end is not None:
            clauses.append("passages.created_at <= :end")
            params["end"] = dialect.moment(self.end)
        return clauses, params


def filtered_seqs(session: Session, scope: Scope, where: PassageFilter) -> set[int]:
    clauses, params = where.sql(dialects.for_session(session))
    visible, scope_params = scope.sql()
    rows = session.execute(
        text(f"SELECT passages.seq FROM passages WHERE {visible} AND " + " AND ".join(clauses)),
        {**params, **scope_params},
    )
    return {int(row[0]) for row in rows}


def keyword_scored(
    session: Session,
    scope: Scope,
    query: str,
    limit: int,
    where: PassageFilter = PassageFilter(),
) -> list[tuple[int, float]]:
    """(seq, BM25) of the passages in ``scope`` matching ``query`` by full text and
    ``where``, best first, scored with the scope's own statistics."""
    dialect = dialects.for_session(session)
    clauses, params = where.sql(dialect)
    visible, scope_params = scope.sql()
    return bm25_ranked(
        session,
        "passages",
        query_terms(query),
        [visible, *clauses],
        {**params, **scope_params},
        limit,
    )
