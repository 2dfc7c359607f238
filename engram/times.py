"""The one way a time given as text (a query parameter, a body field, a tool argument) is
read: ISO 8601, a date or a date-time, ``Z`` or an offset, naive meaning UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from engram.errors import InvalidInput


def read_iso_time(value: str) -> datetime:
    """``value`` as an aware UTC datetime; ``ValueError`` naming the value otherwise."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or time: '{value}'") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_time(field: str, value: str | None) -> datetime | None:
    """``value`` read as ``read_iso_time`` does, None when absent or empty; a bad one is an
    ``InvalidInput`` naming ``field`` (a 422 on the wire)."""
    if not value:
        return None
    try:
        return read_iso_time(value)
    except ValueError as exc:
        raise InvalidInput(field, str(exc)) from None
