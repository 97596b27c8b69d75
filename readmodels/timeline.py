"""Queries of the customer timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from readmodels import cursor as keyset


def timeline(db, tenant_id: str, customer_id: UUID, *, kinds: list[str] | None = None,
             since: datetime | None = None, until: datetime | None = None,
             cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Newest first, keyed by (occurred_at, position, aggregate_id) so pages never overlap."""
    where, params = ["tenant_id = ?"], [tenant_id]
    if kinds:
        where.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params += kinds
    if since:
        where.append("occurred_at >= ?")
        params.append(since)
    if until:
        where.append("occurred_at < ?")
        params.append(until)
    if cursor:
        occurred_at, position = keyset.decode(cursor, 2)
        where.append("(occurred_at, position) < (?::TIMESTAMPTZ, ?)")
        params += [occurred_at, int(position)]
    # The customer's rows are fetched first (an index lookup) and only then
    # filtered and sorted: a plain "WHERE customer_id = ? ORDER BY ... LIMIT"
    # makes DuckDB choose a top-N over a full scan, 10x slower at millions of rows.
    result = db.execute(
        "WITH entries AS MATERIALIZED (SELECT * FROM timeline WHERE customer_id = ?) "
        "SELECT occurred_at, position, kind, event_type, aggregate_id, version, actor, summary, data "
        f"FROM entries WHERE {' AND '.join(where)} "
        "ORDER BY occurred_at DESC, position DESC LIMIT ?", [customer_id] + params + [limit + 1])
    columns = [d[0] for d in result.description]
    rows = [dict(zip(columns, row)) for row in result.fetchall()]
    for row in rows:
        row["data"] = orjson.loads(row["data"])
    return keyset.page(rows, limit, ("occurred_at", "position"))
