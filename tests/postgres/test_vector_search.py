"""Vector search inside PostgreSQL: the HNSW index per dimension is built on first use,
large scopes are served from it with high recall, and small scopes or filtered searches
come back complete (exact), as the in-memory search on SQLite does."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from engram.config import normalize_database_url
from engram.store import passages
from engram.store import tables as t
from engram.store.db import join_index_builds, make_engine, migrate
from engram.store.vectors import VectorIndex
from tests.support.postgres import PostgresCluster

DIM = 16


@pytest.fixture
def engine(postgres_cluster: PostgresCluster) -> Iterator[Engine]:
    url = normalize_database_url(postgres_cluster.new_database("vectors"))
    migrate(url)
    engine = make_engine(url)
    yield engine
    join_index_builds(60)  # a build still running holds a connection out of the pool
    engine.dispose()


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def add_agent(session: Session, agent_id: str, vectors: np.ndarray) -> dict[int, np.ndarray]:
    session.add(
        t.Agent(
            id=agent_id,
            name=agent_id,
            system="",
            agent_type="memgpt_v2_agent",
            llm_config={},
            embedding_config={},
        )
    )
    rows = [
        passages.new_passage(
            agent_id=agent_id, text_=f"{agent_id} {i}", embedding=list(v), embedding_handle="test"
        )
        for i, v in enumerate(vectors)
    ]
    session.add_all(rows)
    session.flush()
    return {row.seq: unit(vectors[i]) for i, row in enumerate(rows)}


def exact(stored: dict[int, np.ndarray], query: np.ndarray, k: int) -> list[int]:
    scores = {seq: float(vector @ unit(query)) for seq, vector in stored.items()}
    return sorted(scores, key=lambda seq: -scores[seq])[:k]


def wait_for_index(engine: Engine, name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            valid = connection.execute(
                text(
                    "SELECT i.indisvalid FROM pg_class c JOIN pg_index i "
                    "ON i.indexrelid = c.oid WHERE c.relname = :name"
                ),
                {"name": name},
            ).scalar()
        if valid:
            return
        time.sleep(0.1)
    raise AssertionError(f"index {name} was not built")


def test_large_scopes_use_the_index_and_small_ones_stay_complete(engine: Engine) -> None:
    rng = np.random.default_rng(7)
    with Session(engine) as session, session.begin():
        big = add_agent(session, "agent-big", rng.normal(size=(600, DIM)))
        small = add_agent(session, "agent-small", rng.normal(size=(4, DIM)))
    index = VectorIndex()
    query = rng.normal(size=DIM)

    with Session(engine) as session:
        # The first search is exact while the index is built in the background.
        first = index.nearest(session, "agent-big", list(query), 50)
    assert [seq for seq, _ in first] == exact(big, query, 50)
    wait_for_index(engine, f"ix_hnsw_passages_{DIM}")

    with Session(engine) as session:
        # Whether the index serves the search's expression and predicate at all; on so few
        # rows the planner could prefer a scan, which is why it is told not to here.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            row[0]
            for row in session.execute(
                text(
                    f"EXPLAIN SELECT seq FROM passages WHERE embedding_dim = {DIM} "
                    f"ORDER BY embedding::vector({DIM}) <=> CAST(:q AS vector({DIM})) LIMIT 50"
                ),
                {"q": "[" + ",".join(str(x) for x in query) + "]"},
            )
        )
    assert f"ix_hnsw_passages_{DIM}" in plan

    with Session(engine) as session:
        found = index.nearest(session, "agent-big", list(query), 50)
        tiny = index.nearest(session, "agent-small", list(query), 50)
        allowed = set(list(big)[:40])
        filtered = index.nearest(session, "agent-big", list(query), 10, allowed)

    found_seqs = [seq for seq, _ in found]
    assert len(found_seqs) == 50
    assert len(set(found_seqs) & set(exact(big, query, 50))) >= 45  # recall@50 >= 0.9
    scores = [score for _, score in found]
    assert scores == sorted(scores, reverse=True)
    # Four passages in a table of six hundred: every one, best first, as exact search.
    assert [seq for seq, _ in tiny] == exact(small, query, 4)
    assert [seq for seq, _ in filtered] == exact({s: big[s] for s in allowed}, query, 10)


def test_similarities_match_the_in_memory_search(engine: Engine) -> None:
    rng = np.random.default_rng(11)
    with Session(engine) as session, session.begin():
        stored = add_agent(session, "agent-a", rng.normal(size=(20, DIM)))
    query = rng.normal(size=DIM)
    with Session(engine) as session:
        found = VectorIndex().nearest(session, ["agent-a"], list(query), 5)
    for seq, score in found:
        assert score == pytest.approx(float(stored[seq] @ unit(query)), abs=1e-5)
