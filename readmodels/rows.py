"""Query results as dicts keyed by column name: what every read-model query returns."""

from __future__ import annotations

from typing import Any


def as_dicts(result) -> list[dict[str, Any]]:
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, row)) for row in result.fetchall()]
