"""Cursor pagination by id, as Letta's list endpoints do it (``before``/``after`` an id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from engram.errors import NotFound


def apply_cursor(
    session: Session,
    query: Select[Any],
    *,
    model: type,
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
        anchor = session.scalar(
            query.with_only_columns(order_column).where(model.id == cursor)  # type: ignore[attr-defined]
        )
        if anchor is None:
            raise NotFound(kind, cursor)
        # "before" means earlier in the listing's order, which flips for descending lists.
        earlier = is_before != descending
        query = query.where(order_column < anchor if earlier else order_column > anchor)
    query = query.order_by(order_column.desc() if descending else order_column.asc())
    if limit is not None:
        query = query.limit(limit)
    return query
