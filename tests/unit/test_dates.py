"""Time phrases of a search query resolved against a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engram.memory.dates import resolve

NOW = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)


def day(year: int, month: int, dd: int) -> datetime:
    return datetime(year, month, dd, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("which restaurant did we go to in May 2023", day(2023, 5, 1), day(2023, 6, 1)),
        ("what happened last May", day(2026, 5, 1), day(2026, 6, 1)),
        ("the trip in December", day(2026, 12, 1), day(2027, 1, 1)),
        ("last December", day(2025, 12, 1), day(2026, 1, 1)),
        ("what did I read in 2023", day(2023, 1, 1), day(2024, 1, 1)),
        ("the flat we saw two weeks ago", day(2026, 11, 19), day(2026, 11, 27)),
        ("3 days ago", day(2026, 12, 4), day(2026, 12, 5)),
        ("what did I buy yesterday", day(2026, 12, 6), day(2026, 12, 7)),
        ("last week's call", day(2026, 11, 30), day(2026, 12, 7)),
        ("notes from last month", day(2026, 11, 1), day(2026, 12, 1)),
        ("last year", day(2025, 1, 1), day(2026, 1, 1)),
        ("on 14 March 2024", day(2024, 3, 14), day(2024, 3, 15)),
        ("the 3rd of June", day(2026, 6, 3), day(2026, 6, 4)),
    ],
)
def test_phrases_resolve_to_ranges(query: str, start: datetime, end: datetime) -> None:
    found = resolve(query, NOW)

    assert found is not None, query
    assert (found.start, found.end) == (start, end)


@pytest.mark.parametrize(
    "query", ["what may I eat", "my dog's name", "ticket 2023-XY", "the day after the move"]
)
def test_queries_without_a_time_resolve_to_nothing(query: str) -> None:
    assert resolve(query, NOW) is None
