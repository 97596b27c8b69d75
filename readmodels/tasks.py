"""Queries of the tasks read model: lists by assignee and due time, and one task.
A customer's open tasks are a part of the 360 view (readmodels/customer360.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from readmodels import cursor as keyset
from readmodels.rows import as_dicts

COLUMNS = ("id", "title", "due_at", "priority", "assignee", "customer_id", "opportunity_id",
           "status", "created_at", "completed_at", "updated_at")
# Tasks without a due time sort after every dated one.
SORT_DUE = "coalesce(due_at, 'infinity'::TIMESTAMPTZ)"


def list_tasks(db, tenant_id: str, *, now: datetime, assignee: str | None = None,
               unassigned: bool = False, status: str | None = None,
               due: str | None = None, day_start: datetime | None = None,
               customer_id: UUID | None = None, opportunity_id: UUID | None = None,
               cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Soonest due first (undated last). ``due`` is ``overdue`` (open, due before ``now``) or
    ``today`` (open, due within the day that starts at ``day_start``)."""
    where, params = ["tenant_id = ?"], [tenant_id]
    if assignee is not None:
        where.append("assignee = ?")
        params.append(assignee)
    if unassigned:
        where.append("assignee IS NULL")
    if due:
        status = "open"
    if status:
        where.append("status = ?")
        params.append(status)
    if due == "overdue":
        where.append("due_at < ?")
        params.append(now)
    elif due == "today":
        where.append("due_at >= ? AND due_at < ?")
        params += [day_start, day_start + timedelta(days=1)]
    for column, value in (("customer_id", customer_id), ("opportunity_id", opportunity_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if cursor:
        sort_due, last_id = keyset.decode(cursor, 2)
        where.append(f"({SORT_DUE}, id) > (?::TIMESTAMPTZ, ?::UUID)")
        params += [sort_due, last_id]
    rows = as_dicts(db.execute(
        f"SELECT {', '.join(COLUMNS)}, {SORT_DUE}::VARCHAR AS sort_due FROM tasks "
        f"WHERE {' AND '.join(where)} ORDER BY {SORT_DUE}, id LIMIT ?", params + [limit + 1]))
    result = keyset.page(rows, limit, ("sort_due", "id"))
    for row in result["items"]:
        del row["sort_due"]
        row["overdue"] = row["status"] == "open" and row["due_at"] is not None and row["due_at"] < now
    return result


def get_task(db, tenant_id: str, task_id: UUID) -> dict[str, Any] | None:
    found = as_dicts(db.execute(f"SELECT {', '.join(COLUMNS)} FROM tasks WHERE id = ? AND tenant_id = ?",
                             [task_id, tenant_id]))
    return found[0] if found else None


def existing(db, tenant_id: str, ids: list[UUID]) -> set[UUID]:
    """Which of ``ids`` are the tenant's tasks already: the daily jobs name their tasks by what
    they are for, and asking here once is cheaper than a create that fails per task each day."""
    if not ids:
        return set()
    return {row[0] for row in db.execute(
        "SELECT id FROM tasks WHERE tenant_id = ? AND id IN (SELECT unnest(?::UUID[]))",
        [tenant_id, ids]).fetchall()}
