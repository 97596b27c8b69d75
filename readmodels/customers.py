"""Queries of the customer directory and the customer 360 summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from readmodels import customer360, custom_fields
from readmodels import cursor as keyset
from readmodels.rows import as_dicts

DIRECTORY_COLUMNS = ("id", "name", "email", "phone", "source", "tags", "status",
                     "created_at", "updated_at")


def list_customers(db, tenant_id: str, *, q: str | None = None, tag: str | None = None,
                   status: str | None = None, created_from: datetime | None = None,
                   created_to: datetime | None = None, cursor: str | None = None,
                   limit: int = 50, custom: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
    """Newest first. ``q`` matches the start of the name or of the email, case-insensitively.

    ``custom`` filters on custom field values: ``(key, operator, value)``, see
    :func:`readmodels.custom_fields.filters`.
    """
    where, params = directory_filters(db, tenant_id, "customers", q=q, tag=tag, status=status,
                                      created_from=created_from, created_to=created_to,
                                      custom=custom)
    clause, values = keyset.older_than(cursor, "created_at")
    where += clause
    params += values
    sql = (f"SELECT {', '.join(DIRECTORY_COLUMNS)} FROM customers WHERE {' AND '.join(where)} "
           "ORDER BY created_at DESC, id DESC LIMIT ?")
    rows = as_dicts(db.execute(sql, params + [limit + 1]))
    return keyset.page(rows, limit, ("created_at", "id"))


def directory_filters(db, tenant_id: str, table: str, *, q: str | None = None,
                      tag: str | None = None, status: str | None = None,
                      created_from: datetime | None = None, created_to: datetime | None = None,
                      custom: list[tuple[str, str, str]] | None = None) -> tuple[list[str], list]:
    """The directory's filters as SQL conditions on ``table`` (a name or alias of customers),
    shared by the list and the exports so both select the same customers."""
    where, params = custom_fields.filters(db, tenant_id, custom or [], f"{table}.id")
    where, params = [f"{table}.tenant_id = ?", *where], [tenant_id, *params]
    if q:
        prefix = q.lower()
        # lower(email): an address keeps its local part's capitals (Ada.Potter@), a search should not care
        where.append(f"(starts_with({table}.name_lower, ?) OR starts_with(lower({table}.email), ?))")
        params += [prefix, prefix]
    if tag:
        where.append(f"list_contains({table}.tags, ?)")
        params.append(tag.lower())
    if status:
        where.append(f"{table}.status = ?")
        params.append(status)
    if created_from:
        where.append(f"{table}.created_at >= ?")
        params.append(created_from)
    if created_to:
        where.append(f"{table}.created_at < ?")
        params.append(created_to)
    return where, params


def customer_360(db, tenant_id: str, customer_id: UUID) -> dict[str, Any] | None:
    """Profile, counts, spend and open deals of one customer; None if not in this tenant."""
    found = as_dicts(db.execute(
        f"SELECT {', '.join('c.' + c for c in DIRECTORY_COLUMNS)}, s.note_count, "
        "s.communication_count, s.order_count, s.open_opportunities, s.won_opportunities, "
        "s.campaigns_received, s.first_order_at, s.last_order_at, s.last_interaction_at, "
        "v.version FROM customers c LEFT JOIN customer_summaries s ON s.id = c.id "
        "LEFT JOIN applied_versions v ON v.aggregate_id = c.id "
        "WHERE c.id = ? AND c.tenant_id = ?", [customer_id, tenant_id]))
    if not found:
        return None
    customer = found[0]
    for column in ("note_count", "communication_count", "order_count", "open_opportunities",
                   "won_opportunities", "campaigns_received"):
        customer[column] = customer[column] or 0
    spend = as_dicts(db.execute(
        "SELECT currency, total AS amount, orders FROM customer_spend WHERE customer_id = ? "
        "ORDER BY orders DESC, total DESC", [customer_id]))
    # The headline figure is in the currency the customer buys in most; all are listed.
    main = spend[0] if spend else {"currency": None, "amount": 0, "orders": 0}
    customer["lifetime_spend"] = str(main["amount"]) if spend else "0.00"
    customer["currency"] = main["currency"]
    customer["average_order_value"] = (
        str((main["amount"] / main["orders"]).quantize(main["amount"])) if spend else None)
    customer["spend_by_currency"] = [{**row, "amount": str(row["amount"])} for row in spend]
    customer["open_opportunities_list"] = as_dicts(db.execute(
        "SELECT id, title, value::VARCHAR AS value, currency, stage, expected_close "
        "FROM opportunities WHERE customer_id = ? AND status = 'open' ORDER BY opened_at DESC "
        "LIMIT 20", [customer_id]))
    customer["last_interactions"] = as_dicts(db.execute(
        "SELECT occurred_at, kind, event_type, summary FROM timeline WHERE customer_id = ? "
        "ORDER BY occurred_at DESC, position DESC LIMIT 5", [customer_id]))
    customer.update(customer360.extras(db, tenant_id, customer_id))
    return customer


def customer_exists(db, tenant_id: str, customer_id: UUID) -> bool:
    return db.execute("SELECT 1 FROM customers WHERE id = ? AND tenant_id = ?",
                      [customer_id, tenant_id]).fetchone() is not None
