"""Queries of the contracts read model: lists, one contract, and those up for renewal."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from readmodels import cursor as keyset

COLUMNS = ("id", "version", "customer_id", "opportunity_id", "title", "type", "status",
           "start_date", "end_date", "renewal_date", "auto_renew", "value", "currency", "renewals",
           "reason", "created_at", "updated_at")


def _row(row: tuple, today: date) -> dict[str, Any]:
    contract = dict(zip(COLUMNS, row))
    contract["value"] = None if contract["value"] is None else str(contract["value"])
    # An active contract past its end date has run out (until it is renewed).
    if contract["status"] == "active" and contract["end_date"] < today:
        contract["status"] = "ended"
    contract["days_to_renewal"] = (contract["renewal_date"] - today).days
    return contract


def get_contract(db, tenant_id: str, contract_id: UUID, today: date) -> dict[str, Any] | None:
    row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM contracts WHERE id = ? AND tenant_id = ?",
                     [contract_id, tenant_id]).fetchone()
    return _row(row, today) if row else None


def list_contracts(db, tenant_id: str, today: date, *, status: str | None = None,
                   customer_id: UUID | None = None, cursor: str | None = None,
                   limit: int = 50) -> dict[str, Any]:
    where, params = ["tenant_id = ?"], [tenant_id]
    if status == "ended":
        where.append("status = 'active' AND end_date < ?")
        params.append(today)
    elif status == "active":
        where.append("status = 'active' AND end_date >= ?")
        params.append(today)
    elif status:
        where.append("status = ?")
        params.append(status)
    if customer_id:
        where.append("customer_id = ?")
        params.append(customer_id)
    if cursor:
        end_date, last_id = keyset.decode(cursor, 2)
        where.append("(end_date, id) > (?::DATE, ?::UUID)")
        params += [end_date, last_id]
    rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM contracts WHERE {' AND '.join(where)} "
                      "ORDER BY end_date, id LIMIT ?", params + [limit + 1]).fetchall()
    return keyset.page([_row(row, today) for row in rows], limit, ("end_date", "id"))


def up_for_renewal(db, tenant_id: str, today: date, within_days: int) -> list[dict[str, Any]]:
    """Active contracts whose renewal date is from today to ``within_days`` ahead, soonest first."""
    rows = db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM contracts WHERE tenant_id = ? AND status = 'active' "
        "AND renewal_date BETWEEN ? AND ? ORDER BY renewal_date, id",
        [tenant_id, today, today + timedelta(days=within_days)]).fetchall()
    return [_row(row, today) for row in rows]


def tenants_with_active_contracts(db) -> list[str]:
    return [row[0] for row in db.execute(
        "SELECT DISTINCT tenant_id FROM contracts WHERE status = 'active' ORDER BY 1").fetchall()]
