"""What read-model queries share: results as dicts keyed by column name, and named and
positional parameters in one statement (DuckDB takes one kind per statement)."""

from __future__ import annotations

import re
from typing import Any


def as_dicts(result) -> list[dict[str, Any]]:
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, row)) for row in result.fetchall()]


def positional(sql: str, params: list[Any], named: dict[str, Any]) -> tuple[str, list[Any]]:
    """Positional parameters in text order: ``$name`` placeholders become ``?`` with their value,
    so that SQL written with names can be joined with SQL built with ``?``."""
    out: list[Any] = []
    pieces = re.split(r"(\$[a-z]+|\?)", sql)
    values = iter(params)
    for i, piece in enumerate(pieces):
        if piece == "?":
            out.append(next(values))
        elif piece.startswith("$") and piece[1:] in named:
            out.append(named[piece[1:]])
            pieces[i] = "?"
    return "".join(pieces), out
