"""Passages: an agent's archival memory and the passages of archives, inserted, listed,
searched and deleted.

Embedding is a model call, so it never runs inside a transaction: an insert or a search by
meaning reads the owner's embedding config, embeds, then writes or searches in a
transaction of its own. Each function still owns one database write at most, and a
failure (an unknown owner, a provider error) leaves nothing half written.

A text longer than the embedding model reads is stored as several passages with the same
tags and metadata, each embedded whole (``archival.passage_texts``); only the single-
passage archive insert, whose answer is one passage, refuses such a text instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete as delete_rows
from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.files.tokens import max_input_tokens_for
from engram.memory import archival

# Re-exported: the routes name these without importing engram.memory.
from engram.memory.archival import Hit as Hit
from engram.memory.ranking import SearchMode as SearchMode
from engram.memory.rerank import Reranked, candidate_count, enabled_for, rerank
from engram.memory.rerank import RerankNote as RerankNote
from engram.ops.deps import HasDb, HasRerankedSearch, HasSearch
from engram.store import agents, archives, passages
from engram.store import tables as t
from engram.store.passages import PassageFilter, Scope

EmbeddingConfig = dict[str, Any]


@dataclass(frozen=True)
class NewPassage:
    text: str
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Page:
    """Passages and the embedding config they are shown with."""

    rows: list[t.Passage]
    embedding_config: EmbeddingConfig


@dataclass(frozen=True)
class AgentSearch:
    """A search of what an agent sees (its passages and its archives')."""

    query: str
    tags: list[str] | None = None
    match_all_tags: bool = False
    top_k: int = 10
    start: datetime | None = None
    end: datetime | None = None
    mode: SearchMode = "hybrid"


@dataclass(frozen=True)
class PassageSearch:
    """``POST /v1/passages/search``: an agent's passages, one archive's, or every passage
    (neither named), by meaning and keywords when there is a query, newest first when
    there is none."""

    query: str | None = None
    agent_id: str | None = None
    archive_id: str | None = None
    tags: list[str] | None = None
    match_all_tags: bool = False
    limit: int = 50
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class ScoredPassage:
    passage: t.Passage
    score: float
    embedding_config: EmbeddingConfig | None
    metadata: dict[str, Any] = field(default_factory=dict)
    """About how it ranked: the reranking stage's note, and its fused rank and score."""


@dataclass(frozen=True)
class FoundPassages:
    """``POST /v1/passages/search``'s results, and what reranking did (None: no reranker)."""

    results: list[ScoredPassage]
    rerank: RerankNote | None = None


# --------------------------------------------------------------------------- an agent's


async def insert(deps: HasSearch, agent_id: str, item: NewPassage) -> Page:
    """Add a passage to the agent's archival memory (several when the text is longer than
    its embedding model reads); them and the agent's embedding config."""

    def _config(session: Session) -> EmbeddingConfig:
        return agents.get(session, agent_id).embedding_config

    config = await deps.db.read(_config)
    embedder = deps.embeddings.embedder_for(config)
    (texts,) = await _split(deps, config, [item.text])
    vectors = await embedder.embed(texts)
    rows = [
        passages.new_passage(
            agent_id=agent_id,
            text_=text,
            embedding=vector,
            embedding_handle=embedder.handle,
            tags=item.tags,
            created_at=item.created_at,
        )
        for text, vector in zip(texts, vectors, strict=True)
    ]

    def _write(session: Session) -> None:
        agents.get(session, agent_id)
        session.add_all(rows)

    await deps.db.write(_write)
    return Page(rows, config)


async def _split(deps: HasSearch, config: EmbeddingConfig, texts: list[str]) -> list[list[str]]:
    """Each text as the passages it is stored as, tokenized off the event loop."""
    local_dir = deps.embeddings.local_model_dir

    def split() -> list[list[str]]:
        return [archival.passage_texts(text, config, local_model_dir=local_dir) for text in texts]

    return await asyncio.to_thread(split)


async def list_for_agent(
    deps: HasDb,
    agent_id: str,
    *,
    before: str | None = None,
    after: str | None = None,
    limit: int | None = 100,
    ascending: bool = True,
    search: str | None = None,
) -> Page:
    """The agent's passages and its archives', in insertion order (``search``: those whose
    text contains it)."""

    def _read(session: Session) -> Page:
        agent = agents.get(session, agent_id)
        rows = passages.list_passages(
            session,
            agent_id,
            before=before,
            after=after,
            limit=limit,
            ascending=ascending,
            search=search,
        )
        return Page(rows, agent.embedding_config)

    return await deps.db.read(_read)


async def search_agent(
    deps: HasRerankedSearch, agent_id: str, search: AgentSearch
) -> Reranked[Hit]:
    """Best matches first among what the agent sees; ``mode="fts"`` embeds nothing. The
    head is reranked when a reranker is configured and the agent has not opted out."""

    def _config(session: Session) -> tuple[EmbeddingConfig, bool]:
        agent = agents.get(session, agent_id)
        return agent.embedding_config, enabled_for(agent.metadata_)

    config, reranked = await deps.db.read(_config)
    reranker = deps.reranker if reranked else None
    vector: list[float] = []
    if search.mode != "fts":
        vector = await archival.embed_one(deps.embeddings.embedder_for(config), search.query)

    def _search(session: Session) -> list[Hit]:
        return archival.search(
            session,
            deps.vectors,
            agent_id,
            search.query,
            vector,
            top_k=candidate_count(reranker, search.top_k),
            tags=search.tags,
            match_all_tags=search.match_all_tags,
            start=search.start,
            end=search.end,
            mode=search.mode,
        )

    hits = await deps.db.read(_search)
    done = await rerank(reranker, search.query, hits, lambda hit: hit.passage.text, search.top_k)
    return done.checked()


async def delete_for_agent(deps: HasSearch, agent_id: str, passage_id: str) -> None:
    """Delete one of the agent's own passages (not an archive's)."""

    def _write(session: Session) -> None:
        agents.get(session, agent_id)
        passages.delete_one(session, agent_id, passage_id)

    await deps.db.write(_write)
    deps.vectors.forget(agent_id)


# --------------------------------------------------------------------------- an archive's


async def insert_into_archive(
    deps: HasSearch, archive_id: str, items: list[NewPassage], *, whole: bool = False
) -> Page:
    """Embed every passage outside any transaction, then write them all at once or none.

    A text longer than the embedding model reads becomes several passages, in order;
    with ``whole`` (the caller answers with one passage per text) it is refused instead."""

    def _config(session: Session) -> EmbeddingConfig:
        return archives.get(session, archive_id).embedding_config

    config = await deps.db.read(_config)
    embedder = deps.embeddings.embedder_for(config)
    pieces = await _split(deps, config, [item.text for item in items])
    if whole and any(len(texts) > 1 for texts in pieces):
        raise InvalidInput(
            "text",
            f"the text is longer than the embedding model '{embedder.handle}' reads "
            f"({max_input_tokens_for(config)} tokens): shorten it, or post it to "
            f"/v1/archives/{archive_id}/passages/batch, which stores it as several passages",
        )
    pairs = [(item, text) for item, texts in zip(items, pieces, strict=True) for text in texts]
    vectors = await embedder.embed([text for _, text in pairs])
    rows = [
        passages.new_passage(
            archive_id=archive_id,
            text_=text,
            embedding=vector,
            embedding_handle=embedder.handle,
            tags=item.tags,
            metadata=item.metadata,
            created_at=item.created_at,
        )
        for (item, text), vector in zip(pairs, vectors, strict=True)
    ]

    def _write(session: Session) -> None:
        archives.get(session, archive_id)
        session.add_all(rows)

    await deps.db.write(_write)
    return Page(rows, config)


async def delete_from_archive(deps: HasDb, archive_id: str, passage_id: str) -> None:
    def _write(session: Session) -> None:
        archives.get(session, archive_id)
        passages.get_in(session, Scope(None, (archive_id,)), passage_id)
        session.execute(delete_rows(t.Passage).where(t.Passage.id == passage_id))

    await deps.db.write(_write)


# --------------------------------------------------------------------------- search


# Searching every passage: the vector half covers the owners (agents, archives) that wrote
# passages most recently, at most this many of each kind, under at most MAX_MODELS embedding
# models (one query embedding each); the keyword half covers every passage.
MAX_VECTOR_OWNERS = 1000
MAX_MODELS = 4


@dataclass(frozen=True)
class _Target:
    scope: Scope
    searcher_config: EmbeddingConfig
    configs: dict[str, EmbeddingConfig]
    reranked: bool = True
    """False for an agent whose metadata opts out of reranking."""


async def search(deps: HasRerankedSearch, request: PassageSearch) -> FoundPassages:
    """Search an agent's passages (its archives' included), one archive's, or, with
    neither named, every passage (Engram has one user, who sees them all).

    With a query, passages are ranked by meaning and keywords fused; without one, the
    newest passages matching the filters come first with score 0."""
    target = await deps.db.read(lambda session: _target(session, request))
    where = PassageFilter(
        tuple(request.tags or ()), request.match_all_tags, request.start, request.end
    )
    query = (request.query or "").strip()
    reranker = deps.reranker if target.reranked else None
    depth = candidate_count(reranker, request.limit)
    if query and target.scope.everything:
        found = await _search_everything(deps, target, request, query, depth)
    elif query:
        embedder = deps.embeddings.embedder_for(target.searcher_config)
        vector = await archival.embed_one(embedder, query)

        def _search(session: Session) -> list[tuple[t.Passage, float]]:
            hits = archival.search_scope(
                session,
                deps.vectors,
                target.scope,
                query,
                vector,
                top_k=depth,
                tags=list(where.tags),
                match_all_tags=where.match_all_tags,
                start=request.start,
                end=request.end,
            )
            return [(hit.passage, hit.score) for hit in hits]

        found = await deps.db.read(_search)
    else:

        def _list(session: Session) -> list[tuple[t.Passage, float]]:
            rows = passages.list_in(
                session, target.scope, limit=request.limit, ascending=False, where=where
            )
            return [(row, 0.0) for row in rows]

        found = await deps.db.read(_list)
    done = await rerank(reranker if query else None, query, found, _text, request.limit)
    found = done.checked().items
    configs = target.configs
    unknown = {row.archive_id or row.agent_id or "" for row, _ in found} - set(configs)
    if unknown:
        # Owners past the vector half's bound (or listed without a query) still show theirs.
        configs = configs | await deps.db.read(lambda s: passages.owner_configs(s, unknown))
    results = [
        ScoredPassage(
            row,
            score if reranked is None else reranked,
            configs.get(row.archive_id or row.agent_id or ""),
            _ranking(done, rank, score, reranked),
        )
        for rank, ((row, score), reranked) in enumerate(zip(found, done.scores, strict=True))
    ]
    return FoundPassages(results, done.note)


def _text(found: tuple[t.Passage, float]) -> str:
    return found[0].text


def _ranking(
    done: Reranked[tuple[t.Passage, float]], rank: int, fused: float, reranked: float | None
) -> dict[str, Any]:
    """A result's metadata: nothing without a reranker; else the reranking's note, with
    the result's fused rank and score when the reranker scored it (its score is then the
    reranker's)."""
    if done.note is None:
        return {}
    note = done.note.as_json()
    if reranked is not None:
        note |= {"fused_rank": done.fused_ranks[rank] + 1, "fused_score": fused}
    return {"rerank": note}


def _target(session: Session, request: PassageSearch) -> _Target:
    """What to search, which embedding config queries it, and each owner's config."""
    if request.archive_id is not None:
        return _archive_target(session, request.archive_id, request.agent_id)
    if request.agent_id is None:
        owners = passages.passage_owners(session, MAX_VECTOR_OWNERS)
        return _Target(Scope(everything=True), {}, dict(owners))
    agent = agents.get(session, request.agent_id)
    configs = {row.id: row.embedding_config for row in archives.for_agent(session, agent.id)}
    configs[agent.id] = agent.embedding_config
    scope = passages.scope_of_agent(session, agent.id)
    return _Target(scope, agent.embedding_config, configs, enabled_for(agent.metadata_))


def _archive_target(session: Session, archive_id: str, agent_id: str | None) -> _Target:
    archive = archives.get(session, archive_id)
    if agent_id is not None:
        agents.get(session, agent_id)
        if archive.id not in passages.scope_of_agent(session, agent_id).archive_ids:
            raise InvalidInput(
                "archive_id", f"archive '{archive.id}' is not attached to agent '{agent_id}'"
            )
    config = archive.embedding_config
    return _Target(Scope(None, (archive.id,)), config, {archive.id: config})


async def _search_everything(
    deps: HasSearch, target: _Target, request: PassageSearch, query: str, depth: int
) -> list[tuple[t.Passage, float]]:
    """Every passage ranked against ``query``: each embedding model's owners get the
    query embedded by that model (the models holding the most owners first)."""
    by_model: dict[tuple[str, int], list[str]] = {}
    configs: dict[tuple[str, int], EmbeddingConfig] = {}
    for owner, config in target.configs.items():
        key = (str(config.get("handle") or ""), int(config.get("embedding_dim") or 0))
        by_model.setdefault(key, []).append(owner)
        configs.setdefault(key, config)
    chosen = sorted(by_model, key=lambda key: -len(by_model[key]))[:MAX_MODELS]
    groups = []
    for key in chosen:
        embedder = deps.embeddings.embedder_for(configs[key])
        groups.append((by_model[key], await archival.embed_one(embedder, query)))

    def _search(session: Session) -> list[tuple[t.Passage, float]]:
        hits = archival.search_everything(
            session,
            deps.vectors,
            groups,
            query,
            top_k=depth,
            tags=list(request.tags or ()),
            match_all_tags=request.match_all_tags,
            start=request.start,
            end=request.end,
        )
        return [(hit.passage, hit.score) for hit in hits]

    return await deps.db.read(_search)
