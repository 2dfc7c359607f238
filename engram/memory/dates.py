"""Time named in a search query, as a range of moments.

"What did we eat in May 2023", "the flat we saw two weeks ago", "yesterday's call": the
words that say when are resolved against the agent's clock into a [start, end) range that
memory search prefers (``archival.search_scope``, ``recall.search``). The words stay in
the query: passages carry their dates in their text and the embedding sees them too.

A small parser of the phrases people use with a memory ("in 2023", "in May", "last May",
"May 2023", "on 14 March 2024", "yesterday", "today", "last week", "last month", "last
year", "this week/month/year", "N days/weeks/months/years ago"), English only; anything
else resolves to nothing and the search is unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ),
        1,
    )
    for name in names
}  # fmt: skip
NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "couple of": 2, "few": 3,
}  # fmt: skip
_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b\.?"
_COUNT = r"(\d+|" + "|".join(sorted(NUMBERS, key=len, reverse=True)) + ")"


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime  # exclusive
    phrase: str


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _day(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def _back(now: datetime, count: int, unit: str) -> tuple[datetime, datetime]:
    """About ``count`` units before ``now``: a window around that moment, as wide as the
    unit is vague (a day for days, a week for weeks, a month for months)."""
    if unit.startswith("day"):
        day = _day(now) - timedelta(days=count)
        return day, day + timedelta(days=1)
    if unit.startswith("week"):
        middle = _day(now) - timedelta(weeks=count)
        return middle - timedelta(days=4), middle + timedelta(days=4)
    if unit.startswith("month"):
        month = now.month - count
        year = now.year + (month - 1) // 12
        return _month(year, (month - 1) % 12 + 1)
    return datetime(now.year - count, 1, 1, tzinfo=UTC), datetime(
        now.year - count + 1, 1, 1, tzinfo=UTC
    )


def _relative(text: str, now: datetime) -> TimeRange | None:
    today = _day(now)
    found = re.search(_COUNT + r"\s+(days?|weeks?|months?|years?)\s+ago\b", text)
    if found:
        count = int(found[1]) if found[1].isdigit() else NUMBERS[found[1]]
        return TimeRange(*_back(now, count, found[2]), found[0])
    simple = {
        "yesterday": (today - timedelta(days=1), today),
        "today": (today, today + timedelta(days=1)),
        "last week": (
            today - timedelta(days=today.weekday() + 7),
            today - timedelta(days=today.weekday()),
        ),
        "this week": (today - timedelta(days=today.weekday()), today + timedelta(days=1)),
        "last month": _back(now, 1, "month"),
        "this month": _month(now.year, now.month),
        "last year": _back(now, 1, "year"),
        "this year": (datetime(now.year, 1, 1, tzinfo=UTC), today + timedelta(days=1)),
    }
    for phrase, (start, end) in simple.items():
        if re.search(rf"\b{phrase}\b", text):
            return TimeRange(start, end, phrase)
    return None


def _named(text: str, now: datetime) -> TimeRange | None:
    day = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"\s*(\d{4})?", text)
    if day:
        year = int(day[3]) if day[3] else now.year
        try:
            start = datetime(year, MONTHS[day[2]], int(day[1]), tzinfo=UTC)
        except ValueError:
            return None
        return TimeRange(start, start + timedelta(days=1), day[0])
    month = re.search(r"\b(last\s+|this\s+)?" + _MONTH + r"(?:\s+(?:of\s+)?(\d{4}))?", text)
    if month and (month[1] or month[3] or month[2] != "may" or re.search(r"\bin\s+may\b", text)):
        number = MONTHS[month[2]]
        if month[3]:
            year = int(month[3])
        else:  # the latest such month that has begun ("last May" in May means a year ago)
            year = (
                now.year
                if number < now.month or (number == now.month and not month[1])
                else now.year - 1
            )
        return TimeRange(*_month(year, number), month[0].strip())
    whole = re.search(r"\b(?:in|during|of|from)\s+((?:19|20)\d\d)\b", text)
    if whole:
        value = int(whole[1])
        start = datetime(value, 1, 1, tzinfo=UTC)
        return TimeRange(start, datetime(value + 1, 1, 1, tzinfo=UTC), whole[0])
    return None


def resolve(query: str, now: datetime) -> TimeRange | None:
    """The time ``query`` names, against ``now`` (the agent's clock), or None."""
    text = query.lower()
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    return _relative(text, now) or _named(text, now)


def without(query: str, when: TimeRange) -> str:
    """``query`` less the words that named ``when`` (and a preposition before them): inside
    the range they match every dated passage alike, so they would only add noise to the
    keyword ranking there."""
    pattern = r"\b(?:in|on|during|from|of)?\s*" + re.escape(when.phrase) + r"\b"
    rest = re.sub(pattern, " ", query, count=1, flags=re.IGNORECASE)
    return " ".join(rest.split()) or query
