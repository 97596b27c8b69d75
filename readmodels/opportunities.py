"""Queries of the opportunities read model."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from readmodels import cursor as keyset

COLUMNS = ("id", "customer_id", "title", "value", "currency", "stage", "status", "owner",
           "expected_close", "lost_reason", "opened_at", "updated_at", "closed_at")


def list_opportunities(db, tenant_id: str, *, stage: str | None = None, status: str | None = None,
                       customer_id: UUID | None = None, cursor: str | None = None,
                       limit: int = 50) -> dict[str, Any]:
    where, params = ["tenant_id = ?"], [tenant_id]
    for column, value in (("stage", stage), ("status", status), ("customer_id", customer_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause, values = keyset.older_than(cursor, "opened_at")
    where += clause
    params += values
    result = db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM opportunities WHERE {' AND '.join(where)} "
        "ORDER BY opened_at DESC, id DESC LIMIT ?", params + [limit + 1])
    rows = [dict(zip(COLUMNS, row)) for row in result.fetchall()]
    for row in rows:
        row["value"] = str(row["value"])
    return keyset.page(rows, limit, ("opened_at", "id"))


def stage_totals(db, tenant_id: str) -> list[dict[str, Any]]:
    """Open deals per stage: count and total value per currency."""
    result = db.execute(
        "SELECT stage, currency, count(*) AS count, sum(value)::VARCHAR AS total FROM opportunities "
        "WHERE tenant_id = ? AND status = 'open' GROUP BY stage, currency ORDER BY stage, currency",
        [tenant_id])
    return [dict(zip(("stage", "currency", "count", "total"), row)) for row in result.fetchall()]
