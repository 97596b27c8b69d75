"""The row changes a projection asks for, as plain data.

Projections return these; :mod:`readmodels.store` turns a batch of them into a
few bulk SQL statements. Keeping them as data is what makes projections
testable without a database and batching possible at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Upsert:
    """Create or update the row with ``key``.

    ``set`` columns take the new value, ``add`` columns are incremented,
    ``greatest`` and ``least`` columns keep the larger (smaller) of old and new.
    The last three kinds commute
    across events of different aggregates (a count and a profile field never
    fight), which is what lets projections ignore cross-aggregate arrival order.
    """

    table: str
    key: dict[str, Any]
    set: dict[str, Any] = field(default_factory=dict)
    add: dict[str, Any] = field(default_factory=dict)
    greatest: dict[str, Any] = field(default_factory=dict)
    least: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Append:
    """Insert one row into an append-only table (a timeline entry, an order)."""

    table: str
    row: dict[str, Any]


Change = Upsert | Append
