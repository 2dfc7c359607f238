"""Fresh Engram databases for ``vector_search.py``, bulk-loaded through Engram's schema.

Why not the API: inserting a million passages one request at a time would take most of a
day and measure the embedder and HTTP, not search. Instead each size gets a fresh database
migrated by ``engram.store.db.migrate``, one agent row, and passage rows inserted with
SQLAlchemy Core through the table objects of ``engram/store/tables.py``, in large batches:
the same columns, types and triggers (SQLite's FTS5 mirror, PostgreSQL's generated
tsvector) that ``passages.new_passage`` fills, so search sees exactly what the server
would have written.

HNSW indexes are not maintained during the load: building one over the loaded table is
several times faster than inserting into it row by row, and it is what a bulk import
should do. If the schema already has one (made by a migration) it is dropped before the
load and recreated from its own definition after; if Engram builds it on demand (on the
first search of that dimension), the first search is run and the build awaited. Either
way the time is reported as the index build.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, Insert, Text, bindparam, cast, insert, make_url, select, text

from bench.vector_search_data import Corpus, passage_texts
from engram.config import normalize_database_url
from engram.ids import new_id
from engram.store import tables as t
from engram.store.db import make_engine, migrate

AGENT_NAME = "vector-search-bench"
BATCH_ROWS = 5_000
EMBEDDING_HANDLE = "bench/synthetic-384"
PROGRESS_SECONDS = 5.0
FLOAT32_DIGITS = "{:.9g}"
"""Nine significant digits identify every float32 (IEEE 754's round-trip bound)."""


def say(message: str) -> None:
    """Progress goes to stderr so that stdout carries only the results."""
    print(message, file=sys.stderr, flush=True)


class SqliteTarget:
    """One SQLite file per size in a scratch directory."""

    name = "sqlite"

    def __init__(self, directory: Path | None) -> None:
        self._owned = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="engram-vs-"))

    def existing(self, size: int) -> str | None:
        path = self.directory / f"vectors_{size}.db"
        return f"sqlite:///{path}" if path.exists() else None

    def fresh(self, size: int) -> str:
        path = self.directory / f"vectors_{size}.db"
        for leftover in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
            leftover.unlink(missing_ok=True)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        Path(url.split(":///", 1)[1]).unlink(missing_ok=True)

    def close(self, keep: bool) -> None:
        if self._owned and not keep:
            shutil.rmtree(self.directory, ignore_errors=True)


class PostgresTarget:
    """A database per size on a pgserver cluster (PostgreSQL 16 with pgvector).

    ``maintenance_work_mem`` is set on each database before anything connects, so that
    every connection, the one Engram builds its index on included, gets it: an HNSW graph
    that outgrows it is built far more slowly (pgvector's documented advice).
    """

    name = "postgres"

    def __init__(self, directory: Path | None, maintenance_work_mem: str) -> None:
        import pgserver

        self._owned = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="engram-vs-pg-"))
        self._server: Any = pgserver.get_server(self.directory, cleanup_mode="stop")
        self._work_mem = maintenance_work_mem
        self.version = self._server.psql("SHOW server_version;").split("\n")[2].strip()

    def existing(self, size: int) -> str | None:
        name = f"engram_vectors_{size}"
        found = self._server.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{name}';")
        if found.split("\n")[2].strip() != "1":
            return None
        return normalize_database_url(self._server.get_uri(name))

    def fresh(self, size: int) -> str:
        name = f"engram_vectors_{size}"
        self._server.psql(
            f"DROP DATABASE IF EXISTS {name};\nCREATE DATABASE {name};\n"
            f"ALTER DATABASE {name} SET maintenance_work_mem = '{self._work_mem}';\n"
        )
        return normalize_database_url(self._server.get_uri(name))

    def drop(self, url: str) -> None:
        name = make_url(url).database
        self._server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")

    def close(self, keep: bool) -> None:
        self._server.cleanup()
        if self._owned and not keep:
            shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class Loaded:
    """A populated database: the searched agent, the seqs of its passages in corpus order
    (rows 0, A, 2A, ... of the corpus with A agents), and timings."""

    url: str
    agent_id: str
    seqs: np.ndarray
    load_seconds: float | None
    dropped_indexes: list[str]


def load(url: str, corpus: Corpus, seed: int, agents: int = 1) -> Loaded:
    """Migrate a fresh database and insert ``agents`` agents sharing the passages of
    ``corpus`` round-robin; the first is the one searched."""
    migrate(url)
    engine = make_engine(url)
    try:
        dropped = _drop_vector_indexes(engine)
        agent_ids = [_insert_agent(engine, _agent_name(i)) for i in range(agents)]
        started = time.perf_counter()
        _insert_passages(engine, agent_ids, corpus, seed)
        seconds = time.perf_counter() - started
        seq_array = _seqs_of(engine, agent_ids[0])
    finally:
        engine.dispose()
    expected = len(range(0, len(corpus.vectors), agents))
    if len(seq_array) != expected:
        raise RuntimeError(f"the searched agent has {len(seq_array)} passages, not {expected}")
    return Loaded(url, agent_ids[0], seq_array, seconds, dropped)


def reopen(url: str, size: int, agents: int = 1) -> Loaded:
    """A database an earlier ``--keep`` run loaded with the same seed, size and agents, to
    search again (after an Engram change) without loading it again."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            names = conn.execute(select(t.Agent.name, t.Agent.id)).all()
        ids = {name: agent_id for name, agent_id in names}
        if sorted(ids) != sorted(_agent_name(i) for i in range(agents)):
            raise RuntimeError(f"{url} was loaded with {len(ids)} agents, not {agents}")
        agent_id = ids[_agent_name(0)]
        seq_array = _seqs_of(engine, agent_id)
    finally:
        engine.dispose()
    if len(seq_array) != len(range(0, size, agents)):
        raise RuntimeError(f"{url} was loaded with another size than {size}: load it afresh")
    return Loaded(url, agent_id, seq_array, None, [])


def _agent_name(index: int) -> str:
    return AGENT_NAME if index == 0 else f"{AGENT_NAME}-{index}"


def _seqs_of(engine: Engine, agent_id: str) -> np.ndarray:
    with engine.begin() as conn:
        seqs = conn.execute(
            select(t.Passage.seq).where(t.Passage.agent_id == agent_id).order_by(t.Passage.seq)
        ).scalars()
        return np.fromiter(seqs, dtype=np.int64)


def _insert_agent(engine: Engine, name: str) -> str:
    agent_id = new_id("agent")
    with engine.begin() as conn:
        conn.execute(
            insert(t.Agent.__table__),
            {
                "id": agent_id,
                "name": name,
                "system": "Benchmark agent: owns synthetic archival passages.",
                "agent_type": "memgpt_agent",
                "llm_config": {"model": "none"},
                "embedding_config": {
                    "embedding_model": EMBEDDING_HANDLE,
                    "embedding_dim": 384,
                },
            },
        )
    return agent_id


def _insert_passages(engine: Engine, agent_ids: list[str], corpus: Corpus, seed: int) -> None:
    """Batches of rows shaped as ``passages.new_passage`` shapes them, committed per batch
    (a server's writes are small transactions too; one huge one would bloat the WAL)."""
    statement, embedding_value = _passage_insert(engine)
    total = len(corpus.vectors)
    started = last_report = time.perf_counter()
    for start in range(0, total, BATCH_ROWS):
        stop = min(total, start + BATCH_ROWS)
        rows = [
            {
                "id": new_id("passage"),
                "agent_id": agent_ids[row % len(agent_ids)],
                "archive_id": None,
                "text": note,
                "tags": [],
                "metadata": {},
                "embedding_handle": EMBEDDING_HANDLE,
                "embedding_dim": corpus.vectors.shape[1],
                **embedding_value(vector),
            }
            for row, vector, note in zip(
                range(start, stop),
                corpus.vectors[start:stop],
                passage_texts(corpus, start, stop, seed),
                strict=True,
            )
        ]
        with engine.begin() as conn:
            conn.execute(statement, rows)
        now = time.perf_counter()
        if now - last_report >= PROGRESS_SECONDS or stop == total:
            last_report = now
            say(f"  loaded {stop:,} / {total:,} passages ({stop / (now - started):,.0f} rows/s)")
    _check_round_trip(engine, corpus.vectors[0])


def _passage_insert(
    engine: Engine,
) -> tuple[Insert, Callable[[np.ndarray], dict[str, object]]]:
    """The insert statement and how a vector becomes its parameter.

    On SQLite the column takes ``to_blob``'s bytes (the vectors are unit length already, so
    these are its bytes). On PostgreSQL the column type would turn those bytes into
    pgvector's text form with ``repr`` of each float, about 0.6 ms a row on a busy
    2-core machine: ten minutes for a million rows. The loader writes the text form with
    nine significant digits, which round-trips float32 exactly (``_check_round_trip``
    verifies it), and casts it to the column's type in SQL.
    """
    table = t.Passage.__table__
    if engine.dialect.name != "postgresql":
        return insert(table), lambda vector: {"embedding": vector.astype("<f4").tobytes()}
    literal = bindparam("embedding_text", type_=Text())
    statement = insert(table).values(embedding=cast(literal, table.c.embedding.type))
    return statement, lambda vector: {
        "embedding_text": "[" + ",".join(map(FLOAT32_DIGITS.format, vector.tolist())) + "]"
    }


def _check_round_trip(engine: Engine, vector: np.ndarray) -> None:
    """The first stored embedding, read back through Engram's column type, must be the
    vector that was generated: otherwise recall would be measured against other data."""
    with engine.begin() as conn:
        stored = conn.execute(select(t.Passage.embedding).order_by(t.Passage.seq).limit(1))
        value = stored.scalar_one()
    if bytes(value) != vector.astype("<f4").tobytes():
        raise RuntimeError("a stored embedding differs from the generated vector")


def _vector_index_definitions(engine: Engine) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of every HNSW or IVFFlat index on ``passages``."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'passages' "
                "AND (indexdef ILIKE '%USING hnsw%' OR indexdef ILIKE '%USING ivfflat%')"
            )
        ).all()
    return [(str(name), str(definition)) for name, definition in rows]


def _drop_vector_indexes(engine: Engine) -> list[str]:
    definitions = _vector_index_definitions(engine)
    with engine.begin() as conn:
        for name, _ in definitions:
            conn.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in definitions]


def build_index(loaded: Loaded, first_search: Callable[[], None], timeout: float) -> float | None:
    """Seconds to make the passages' vector index ready, or None on SQLite (exact search
    needs none). Analyses the table first, as autovacuum would after a bulk load."""
    engine = make_engine(loaded.url)
    try:
        if engine.dialect.name != "postgresql":
            return None
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE passages"))
            started = time.perf_counter()
            for definition in loaded.dropped_indexes:
                say(f"  rebuilding: {definition}")
                conn.execute(text(definition))
        if loaded.dropped_indexes:
            return time.perf_counter() - started
        say("  no vector index in the schema: running a search so that Engram builds it")
        first_search()
        return _await_index(engine, started, timeout)
    finally:
        engine.dispose()


def _await_index(engine: Engine, started: float, timeout: float) -> float | None:
    """Poll until a valid HNSW index covers ``passages``; None if none appears."""
    last_report = time.perf_counter()
    while True:
        with engine.begin() as conn:
            states = conn.execute(
                text(
                    "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_am a ON a.oid = c.relam "
                    "WHERE i.indrelid = 'passages'::regclass AND a.amname = 'hnsw'"
                )
            ).scalars()
            valid = list(states)
        elapsed = time.perf_counter() - started
        if any(valid):
            return elapsed
        if not valid and elapsed > 30:
            say("  no HNSW index was started on passages: searches stay exact")
            return None
        if elapsed > timeout:
            raise TimeoutError(f"the HNSW index was not ready after {timeout:.0f} s")
        if time.perf_counter() - last_report > 30:
            last_report = time.perf_counter()
            say(f"  index build running ({elapsed:,.0f} s)")
        time.sleep(1.0)


def database_mib(url: str) -> float:
    """On-disk size of the database (PostgreSQL) or file (SQLite), WAL included."""
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])
        files = [path, Path(f"{path}-wal")]
        return sum(f.stat().st_size for f in files if f.exists()) / 2**20
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
    finally:
        engine.dispose()
    return int(size or 0) / 2**20
