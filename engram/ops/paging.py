"""A cursor page as the list operations take it: the ``before``/``after``/``limit``/
``order`` query parameters of Letta's listings, as one plain value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    """``before`` and ``after`` are ids of the listed kind, relative to the order;
    ``limit`` None means all."""

    before: str | None = None
    after: str | None = None
    limit: int | None = None
    descending: bool = False
