"""The one way a time given as text (a query parameter, a body field, a tool argument) is
read: ISO 8601, a date or a date-time, ``Z`` or an offset, naive meaning UTC (or the
agent's zone, for what its model writes); and how an agent's clock shows a time."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engram.errors import InvalidInput


def read_iso_time(value: str, zone: tzinfo = UTC) -> datetime:
    """``value`` as an aware UTC datetime, a naive one read in ``zone``; ``ValueError``
    naming the value otherwise."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or time: '{value}'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def check_timezone(field: str, name: str) -> str:
    """``name`` when it is an IANA time zone (``Europe/Paris``, ``UTC``); InvalidInput
    naming ``field`` otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            field, f"'{name}' is not an IANA time zone name (e.g. 'UTC', 'Europe/Paris')"
        ) from None
    return name


def agent_zone(name: str | None) -> tzinfo:
    """The zone an agent's clock reads (None, or a name no longer known: UTC)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def on_clock(moment: datetime, zone_name: str | None) -> str:
    """``moment`` as the agent's clock shows it: ISO 8601 with the zone's offset."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(agent_zone(zone_name)).isoformat(timespec="seconds")


def parse_time(field: str, value: str | None) -> datetime | None:
    """``value`` read as ``read_iso_time`` does, None when absent or empty; a bad one is an
    ``InvalidInput`` naming ``field`` (a 422 on the wire)."""
    if not value:
        return None
    try:
        return read_iso_time(value)
    except ValueError as exc:
        raise InvalidInput(field, str(exc)) from None
