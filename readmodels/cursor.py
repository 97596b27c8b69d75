"""Opaque keyset cursors: the sort values of the last row of a page, base64 JSON."""

from __future__ import annotations

import base64
from typing import Any

import orjson


class BadCursor(ValueError):
    pass


def encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def decode(cursor: str, length: int) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise BadCursor("the cursor is not one this service issued") from None
    if not isinstance(values, list) or len(values) != length:
        raise BadCursor("the cursor is not one this service issued")
    return values


def page(rows: list[dict], limit: int, sort_keys: tuple[str, ...]) -> dict[str, Any]:
    """Cuts the extra row fetched to learn whether there is a next page."""
    items = rows[:limit]
    more = len(rows) > limit
    return {"items": items,
            "next_cursor": encode([items[-1][k] for k in sort_keys]) if more else None}


def older_than(cursor: str | None, time_column: str = "created_at") -> tuple[list[str], list[Any]]:
    """The keyset condition of a newest-first list sorted by (``time_column``, id)."""
    if not cursor:
        return [], []
    moment, last_id = decode(cursor, 2)
    return [f"({time_column}, id) < (?::TIMESTAMPTZ, ?::UUID)"], [moment, last_id]
