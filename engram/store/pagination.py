"""Cursor pagination by id, as Letta's list endpoints do it (``before``/``after`` an id)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from engram.errors import NotFound


class Identified(Protocol):
    """A row or object listed by id: what a cursor names."""

    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=Identified)


def apply_cursor(
    session: Session,
    query: Select[Any],
    *,
    model: type[Any],
    order_column: InstrumentedAttribute[Any],
    kind: str,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
) -> Select[Any]:
    """Restrict ``query`` to rows strictly before/after the rows named by the cursors."""
    for cursor, is_before in ((before, True), (after, False)):
        if cursor is None:
            continue
        anchor = session.scalar(query.with_only_columns(order_column).where(model.id == cursor))
        if anchor is None:
            raise NotFound(kind, cursor)
        # "before" means earlier in the listing's order, which flips for descending lists.
        earlier = is_before != descending
        query = query.where(order_column < anchor if earlier else order_column > anchor)
    query = query.order_by(order_column.desc() if descending else order_column.asc())
    if limit is not None:
        query = query.limit(limit)
    return query


def page_of(
    items: Sequence[T],
    *,
    before: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
    kind: str,
) -> list[T]:
    """Cursor pagination over a short list already loaded (an agent's blocks or tools),
    with the same order-relative cursors as the database listings."""
    ordered = list(reversed(items)) if descending else list(items)
    ids = [item.id for item in ordered]
    start, end = 0, len(ordered)
    if after is not None:
        if after not in ids:
            raise NotFound(kind, after)
        start = ids.index(after) + 1
    if before is not None:
        if before not in ids:
            raise NotFound(kind, before)
        end = ids.index(before)
    chosen = ordered[start:end] if start < end else []
    return chosen[:limit] if limit is not None else chosen
