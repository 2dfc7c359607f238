"""Lists rendered one row at a time, so that one row that cannot be written as JSON does
not take the whole list down with it.

Why: a stored value the encoder refuses (say, metadata nested deeper than it will go,
stored before such input was refused at the edge) used to fail every list that held its
row, for every client, until someone deleted the row. Each row is encoded on its own; a
row that fails is logged and sent with the fields that failed set to null, so it stays
visible and can be fixed or deleted.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Response
from pydantic_core import PydanticSerializationError, to_json

log = logging.getLogger(__name__)


def _encode(item: dict[str, Any], kind: str) -> bytes:
    try:
        return to_json(item)
    except (PydanticSerializationError, ValueError, RecursionError) as exc:
        bad = []
        for key, value in item.items():
            try:
                to_json(value)
            except (PydanticSerializationError, ValueError, RecursionError):
                bad.append(key)
        log.error(
            "%s '%s' cannot be rendered as JSON (%s); answering with %s set to null",
            kind,
            item.get("id"),
            exc,
            ", ".join(bad) or "nothing",
        )
        return to_json({key: None if key in bad else value for key, value in item.items()})


def json_item(item: dict[str, Any], kind: str) -> Response:
    return Response(_encode(item, kind), media_type="application/json")


def json_list(items: list[dict[str, Any]], kind: str) -> Response:
    body = b"[" + b",".join(_encode(item, kind) for item in items) + b"]"
    return Response(body, media_type="application/json")
