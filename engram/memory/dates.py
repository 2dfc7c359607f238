"""Time named in a search query, as a range of moments.

"What did we eat in May 2023", "the flat we saw two weeks ago", "yesterday's call": the
words that say when are resolved against the agent's clock into a [start, end) range that
memory search prefers (``archival.search_scope``, ``recall.search``). The words stay in
the query: passages carry their dates in their text and the embedding sees them too.

A small parser of the phrases people use with a memory ("in 2023", "in May", "last May",
"May 2023", "on 14 March 2024", "yesterday", "today", "last week", "last month", "last
year", "this week/month/year", "N days/weeks/months/years ago"), English only; anything
else resolves to nothing and the search is unchanged.

People also date things by what happened around them: "the day after the move", "the
week before my sister's wedding", "since I started the new job". Such a phrase names no
date, only an event (``event_time``); the search finds the event in the same memory by
its words, takes the moment it was written as the anchor, and turns the phrase into a
range around it (``anchored``). A calendar phrase in the same query wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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
_COUNTS = r"\d+|" + "|".join(sorted(NUMBERS, key=len, reverse=True))
_COUNT = "(" + _COUNTS + ")"


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
    """About ``count`` units before ``now`` (after it, for a negative count): a window
    around that moment, as wide as the unit is vague (a day for days, a week for weeks, a
    month for months)."""
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


# --------------------------------------------------------------------------- event-relative

_UNITS = "day|night|morning|afternoon|evening|weekend|week|month|year"
_SOON = r"(?:right|just|shortly|soon|straight|immediately)"
# Words that end the event's words: a new clause ("the day after the move, where did we
# eat"; "the week before the wedding what did I buy") or punctuation.
_CLAUSE = frozenset({
    "what", "where", "which", "who", "whom", "whose", "when", "why", "how", "did", "do",
    "does", "was", "were", "is", "are", "and", "but", "or", "so", "then", "while",
})  # fmt: skip
# Words that name no event on their own: "the day after tomorrow", "the week before
# last", "the day after that", "the week after May" are no events to look for.
_EMPTY = frozenset({
    "the", "a", "an", "my", "our", "your", "his", "her", "their", "its", "this", "that",
    "these", "those", "it", "there", "then", "we", "i", "you", "he", "she", "they", "me",
    "us", "him", "them", "next", "last", "tomorrow", "yesterday", "today", "tonight", "now",
    "of", "in", "on", "at", "to", "s", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday", *MONTHS,
})  # fmt: skip
_EVENT_WORDS = 8
_OWNERS = frozenset({"the", "my", "our", "his", "her", "their", "your"})
_SUBJECTS = frozenset({"we", "i", "he", "she", "they"})
_PAST = frozenset({
    "met", "went", "got", "left", "began", "came", "bought", "took", "saw", "had", "quit",
    "won", "lost", "found", "sold", "broke", "ran", "flew", "gave", "became", "made",
})  # fmt: skip


@dataclass(frozen=True)
class EventTime:
    """A time named by an event: ``count`` ``unit`` ``side`` ``event``.

    ``unit`` is one of ``_UNITS``, a plural ("days", counted: "two days after"), or
    "moment" for "right after" / "just before"; ``side`` is "before", "after" or
    "since". ``phrase`` is what the query said, to take out of it as a calendar
    phrase is."""

    side: str
    unit: str
    count: int
    event: str
    phrase: str


def _event_words(rest: str) -> str:
    """The words naming the event at the start of ``rest``: up to a new clause or a
    punctuation mark, at most ``_EVENT_WORDS``; empty when none of them names a thing."""
    words: list[str] = []
    for word in re.findall(r"[\w'’-]+|[^\w\s'’-]", rest):
        if not re.match(r"[\w'’-]", word) or word in _CLAUSE or len(words) == _EVENT_WORDS:
            break
        words.append(word)
    named = [w for w in re.findall(r"[a-z]+", " ".join(words)) if w not in _EMPTY]
    return " ".join(words) if named else ""


def _since(text: str) -> EventTime | None:
    """A time since an event ("since the move", "since we moved"): only with an owner
    ("the", "my"...) or a subject and a past verb after "since", so the "since" of a
    reason ("since you asked", "since it rains", "since we need milk") names no event."""
    for found in re.finditer(r"\bsince\s+", text):
        event = _event_words(text[found.end() :])
        words = event.split()
        if len(words) < 2:
            continue
        dated = words[0] in _OWNERS or (
            words[0] in _SUBJECTS and (_regular_past(words[1]) or words[1] in _PAST)
        )
        if dated:
            return EventTime("since", "moment", 1, event, found[0] + event)
    return None


def _regular_past(word: str) -> bool:
    """A regular past tense ("moved", "started"), not a word ending in "eed" ("need")."""
    return word.endswith("ed") and not word.endswith("eed")


_EVENT_PATTERNS = (
    rf"\b(?:a\s+)?(?P<count>{_COUNTS})\s+(?P<unit>days?|weeks?|months?|years?)\s+",
    rf"\b(?:the\s+)?(?P<unit>{_UNITS})\s+",
    r"\b" + _SOON + r"\s+",
)


def event_time(query: str) -> EventTime | None:
    """The event-relative time ``query`` names, or None: "N days/weeks/months/years
    before|after <event>", "(the) day/night/morning/afternoon/evening/weekend/week/month/
    year before|after <event>", "right after / just before <event>" (also shortly, soon,
    straight, immediately), and "since <event>"."""
    text = query.lower()
    for pattern in _EVENT_PATTERNS:
        for found in re.finditer(pattern + r"(?P<side>before|after)\s+", text):
            event = _event_words(text[found.end() :])
            if not event:
                continue
            parts = found.groupdict()
            unit, count = parts.get("unit") or "moment", 1
            if parts.get("count"):  # counted units are plural: "a week after" is counted too
                unit = unit.rstrip("s") + "s"
                count = int(parts["count"]) if parts["count"].isdigit() else NUMBERS[parts["count"]]
            return EventTime(parts["side"], unit, count, event, (found[0] + event).strip())
    return _since(text)


_SPANS = {
    "morning": timedelta(days=1), "afternoon": timedelta(days=1),
    "evening": timedelta(days=1), "night": timedelta(days=1), "moment": timedelta(days=2),
    "week": timedelta(days=7), "month": timedelta(days=31), "year": timedelta(days=366),
}  # fmt: skip
_JUST = timedelta(microseconds=1)
ANCHOR_CANDIDATES = 5
"""How many of the event search's best hits ``anchored`` may look through."""


def event_range(anchor: datetime, said: EventTime, now: datetime) -> TimeRange:
    """The range ``said`` names once its event is known to be at ``anchor``; never the
    anchor itself, so the words that named the event are not found again as the answer.

    A day is the calendar day (UTC, as calendar phrases): "the day after" is the next
    one. A weekend is the Saturday and Sunday after (before) the anchor's day, not its
    own. A part of a day, a week, a month, a year and "right after" are that long a
    stretch right after (before) the anchor. Counted ("two weeks after") is as vague as
    "two weeks ago", around the moment that far from the anchor. "since" runs to
    ``now``."""
    anchor = anchor.astimezone(UTC) if anchor.tzinfo else anchor.replace(tzinfo=UTC)
    after = said.side != "before"
    day = _day(anchor)
    if said.side == "since":
        start, end = anchor + _JUST, max(now, anchor) + _JUST
    elif said.unit.endswith("s"):
        start, end = _back(anchor, -said.count if after else said.count, said.unit)
    elif said.unit == "day":
        start = day + timedelta(days=1 if after else -1)
        end = start + timedelta(days=1)
    elif said.unit == "weekend":
        start = _weekend(day, after)
        end = start + timedelta(days=2)
    elif after:
        start, end = anchor + _JUST, anchor + _SPANS[said.unit] + _JUST
    else:
        start, end = anchor - _SPANS[said.unit], anchor
    return TimeRange(start, end, said.phrase)


def _weekend(day: datetime, after: bool) -> datetime:
    """The Saturday of the first weekend after ``day`` (or of the last one before it)
    that ``day`` is not part of."""
    if after:
        return day + timedelta(days=(5 - day.weekday()) % 7 or 7)
    back = (day.weekday() - 5) % 7  # days since the last Saturday, 0 on a Saturday
    return day - timedelta(days=back + 7 if back < 2 else back)


def anchored(
    said: EventTime, found: Iterable[tuple[datetime, str]], now: datetime
) -> TimeRange | None:
    """The range of ``said`` against the first of ``found`` (the event search's best
    hits, as (written at, text)) that is the event itself: a text that names a time
    relative to the same event ("where did we eat the day after the move", the question
    itself once stored) only talks about it."""
    for at, text in found:
        again = event_time(text)
        if again is None or again.event != said.event:
            return event_range(at, said, now)
    return None
