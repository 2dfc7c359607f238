"""Time phrases of a search query resolved against a fixed clock, and times named by an
event resolved against the moment the event was written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram.memory.dates import anchored, event_range, event_time, resolve

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


# --------------------------------------------------------------------------- event-relative

MOVE = datetime(2026, 3, 4, 18, 0, tzinfo=UTC)  # a Wednesday
AFTER = MOVE + timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("query", "side", "unit", "count", "event", "phrase"),
    [
        (
            "which restaurant did we go to the day after the move",
            "after", "day", 1, "the move", "the day after the move",
        ),
        (
            "what did I buy the week before my sister's wedding?",
            "before", "week", 1, "my sister's wedding", "the week before my sister's wedding",
        ),
        ("the weekend after the concert", "after", "weekend", 1, "the concert", None),
        (
            "the month after I started the new job",
            "after", "month", 1, "i started the new job", None,
        ),
        ("the week after we moved", "after", "week", 1, "we moved", None),
        ("the night before the flight home", "before", "night", 1, "the flight home", None),
        ("The Morning After the party", "after", "morning", 1, "the party", None),
        ("two days after the move", "after", "days", 2, "the move", None),
        ("3 weeks after the surgery", "after", "weeks", 3, "the surgery", None),
        ("a week after the wedding", "after", "weeks", 1, "the wedding", None),
        ("a couple of days before the exam", "before", "days", 2, "the exam", None),
        ("right after the move", "after", "moment", 1, "the move", None),
        ("just before the exam, what did I eat", "before", "moment", 1, "the exam", None),
        ("shortly after the surgery", "after", "moment", 1, "the surgery", None),
        ("the day after the move, where did we eat", "after", "day", 1, "the move", None),
        ("the week before the wedding what did I buy", "before", "week", 1, "the wedding", None),
        ("what changed since we moved", "since", "moment", 1, "we moved", "since we moved"),
        ("since my sister's wedding", "since", "moment", 1, "my sister's wedding", None),
        ("since I started the new job", "since", "moment", 1, "i started the new job", None),
        ("since we met", "since", "moment", 1, "we met", None),
    ],
)  # fmt: skip
def test_event_relative_phrases_name_their_event(
    query: str, side: str, unit: str, count: int, event: str, phrase: str | None
) -> None:
    found = event_time(query)

    assert found is not None, query
    assert (found.side, found.unit, found.count, found.event) == (side, unit, count, event)
    if phrase is not None:
        assert found.phrase == phrase


@pytest.mark.parametrize(
    "query",
    [
        "the day after tomorrow",
        "the day before yesterday",
        "the week before last",
        "the week after next",
        "the day after that",
        "the weekend after May",
        "the day after Monday",
        "after the move",  # no unit: how long after is anyone's guess
        "before we go",
        "the day after",
        "since you asked",  # a reason, not a time
        "since it rains, what should I cook",
        "since we need milk",
        "since 2023",
        "since then",
        "what may I eat",
        "my dog's name",
        "which restaurant did we go to in May 2023",
    ],
)
def test_phrases_that_name_no_event_resolve_to_nothing(query: str) -> None:
    assert event_time(query) is None


def _range(query: str) -> tuple[datetime, datetime]:
    said = event_time(query)
    assert said is not None, query
    found = event_range(MOVE, said, NOW)
    return found.start, found.end


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        # The calendar day after (before) the event's own, in UTC like calendar phrases.
        ("the day after the move", day(2026, 3, 5), day(2026, 3, 6)),
        ("the day before the move", day(2026, 3, 3), day(2026, 3, 4)),
        # A stretch of its length right after the event, never the event itself.
        ("the week after the move", AFTER, AFTER + timedelta(days=7)),
        ("the week before the move", MOVE - timedelta(days=7), MOVE),
        ("the month after the move", AFTER, AFTER + timedelta(days=31)),
        ("the evening before the move", MOVE - timedelta(days=1), MOVE),
        ("right after the move", AFTER, AFTER + timedelta(days=2)),
        # The next (last) Saturday and Sunday that are not the event's own weekend.
        ("the weekend after the move", day(2026, 3, 7), day(2026, 3, 9)),
        ("the weekend before the move", day(2026, 2, 28), day(2026, 3, 2)),
        # Counted: as vague as "N days/weeks ago", around that far from the event.
        ("two days after the move", day(2026, 3, 6), day(2026, 3, 7)),
        ("3 weeks after the move", day(2026, 3, 21), day(2026, 3, 29)),
        ("two months after the move", day(2026, 5, 1), day(2026, 6, 1)),
        ("a year before the move", day(2025, 1, 1), day(2026, 1, 1)),
        ("since the move", AFTER, NOW + timedelta(microseconds=1)),
    ],
)
def test_event_relative_ranges_are_placed_at_the_anchor(
    query: str, start: datetime, end: datetime
) -> None:
    assert _range(query) == (start, end)


@pytest.mark.parametrize(
    ("anchor", "after", "before"),
    [
        (datetime(2026, 3, 7, 12, tzinfo=UTC), day(2026, 3, 14), day(2026, 2, 28)),  # Saturday
        (datetime(2026, 3, 8, 12, tzinfo=UTC), day(2026, 3, 14), day(2026, 2, 28)),  # Sunday
        (datetime(2026, 3, 9, 12, tzinfo=UTC), day(2026, 3, 14), day(2026, 3, 7)),  # Monday
        (datetime(2026, 3, 6, 12, tzinfo=UTC), day(2026, 3, 7), day(2026, 2, 28)),  # Friday
    ],
)
def test_a_weekend_around_an_event_is_never_the_events_own(
    anchor: datetime, after: datetime, before: datetime
) -> None:
    later, earlier = (
        event_time("the weekend after the move"),
        event_time("the weekend before the move"),
    )
    assert later is not None and earlier is not None

    assert event_range(anchor, later, NOW).start == after
    assert event_range(anchor, earlier, NOW).start == before


def test_the_anchor_is_the_first_hit_that_is_not_a_question_about_the_event() -> None:
    said = event_time("which restaurant did we go to the day after the move")
    assert said is not None
    asked = datetime(2026, 12, 7, 15, tzinfo=UTC)
    hits = [
        (asked, "Which restaurant did we go to the day after the move?"),
        (MOVE, "We moved into the new flat today, the move took all day."),
    ]

    found = anchored(said, hits, NOW)

    assert found is not None
    assert (found.start, found.end) == (day(2026, 3, 5), day(2026, 3, 6))
    assert anchored(said, hits[:1], NOW) is None
    assert anchored(said, [], NOW) is None
