"""Copying a whole deployment from one database to another (embedded SQLite to PostgreSQL).

The target is migrated to the newest schema first and must hold no rows. Every table is
copied in foreign-key order inside one transaction on the target; before it commits, each
table's rows are read back and compared with the source's by count and by a checksum of
their values in primary-key order, so a copy that differs in any value is rolled back and
the target stays empty. Full-text indexes are not copied: the target builds its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.engine import make_url

from engram.store import tables as t
from engram.store.db import make_engine, migrate

BATCH_ROWS = 1000

Progress = Callable[[str, int, int], None]
"""Told (table, rows copied so far, rows in the table) as the copy goes."""


class TransferError(Exception):
    """The copy cannot start (target not empty, same database) or did not verify."""


@dataclass(frozen=True)
class TableReport:
    name: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def matches(self) -> bool:
        return (self.source_rows, self.source_checksum) == (self.target_rows, self.target_checksum)


def copy_database(
    source_url: str, target_url: str, progress: Progress | None = None
) -> list[TableReport]:
    """Copy every row of ``source_url`` into the empty, freshly migrated ``target_url``.

    Returns one report per table; raises ``TransferError`` (with nothing committed on the
    target) if the target is not empty or any table fails to verify."""
    if make_url(source_url) == make_url(target_url):
        raise TransferError("the source and the target are the same database")
    migrate(source_url)  # a source from an older release is brought up to date first
    migrate(target_url)
    source, target = make_engine(source_url), make_engine(target_url)
    try:
        # The reading connection's first query opens the transaction every later one
        # reads in: one snapshot of the source for the whole copy.
        with source.connect() as reading, target.begin() as writing:
            _check_empty(writing)
            reports = []
            for table in t.Base.metadata.sorted_tables:
                total = reading.scalar(select(func.count()).select_from(table)) or 0
                copied = 0
                for batch in _batches(reading, table):
                    writing.execute(table.insert(), batch)
                    copied += len(batch)
                    if progress:
                        progress(table.name, copied, total)
                if progress and total == 0:
                    progress(table.name, 0, 0)
                _advance_sequences(writing, table)
                reports.append(_verify(reading, writing, table))
            failed = [report.name for report in reports if not report.matches]
            if failed:  # raised inside the transaction: it rolls back
                raise TransferError(
                    f"the copy of {', '.join(failed)} did not match the source; nothing was "
                    "committed to the target"
                )
            return reports
    finally:
        source.dispose()
        target.dispose()


def _check_empty(connection: Connection) -> None:
    for table in t.Base.metadata.sorted_tables:
        if connection.scalar(select(func.count()).select_from(table)):
            raise TransferError(
                f"the target database already holds data (table '{table.name}'); "
                "copy into an empty database"
            )


def _ordered(table: Table) -> Any:
    return select(table).order_by(*table.primary_key.columns)


def _batches(connection: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    rows = connection.execute(_ordered(table).execution_options(stream_results=True))
    while chunk := rows.fetchmany(BATCH_ROWS):
        yield [dict(row._mapping) for row in chunk]


def _advance_sequences(connection: Connection, table: Table) -> None:
    """Rows came with their ids: move PostgreSQL's counters past them, or the next insert
    would be given an id that is already taken."""
    if connection.dialect.name != "postgresql":
        return
    for column in table.primary_key.columns:
        if column.autoincrement is not True:
            continue
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
            ),
            {"table": table.name, "column": column.name},
        )


def _verify(reading: Connection, writing: Connection, table: Table) -> TableReport:
    source_rows, source_sum = _checksum(reading, table)
    target_rows, target_sum = _checksum(writing, table)
    return TableReport(table.name, source_rows, target_rows, source_sum, target_sum)


def _checksum(connection: Connection, table: Table) -> tuple[int, str]:
    """The table's row count and a digest of its rows' values. Row digests are sorted
    before they are combined: the databases' text collations order keys differently."""
    rows = sorted(
        hashlib.sha256(_canonical(row).encode()).digest()
        for batch in _batches(connection, table)
        for row in batch
    )
    return len(rows), hashlib.sha256(b"".join(rows)).hexdigest()


def _canonical(row: dict[str, Any]) -> str:
    """A row's values as text both databases agree on (times in UTC, JSON with sorted keys,
    bytes in hex)."""
    return json.dumps({key: _value(value) for key, value in row.items()}, sort_keys=True)


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.loads(json.dumps(value, sort_keys=True, default=str))
    if isinstance(value, float):
        return repr(value)
    return value
