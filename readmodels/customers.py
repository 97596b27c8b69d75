"""Queries of the customer directory and the customer 360 summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from readmodels import customer360, custom_fields
from readmodels import cursor as keyset
from readmodels.rows import as_dicts
from readmodels.snapshot import snapshot

DIRECTORY_COLUMNS = ("id", "name", "email", "phone", "source", "tags", "status",
                     "created_at", "updated_at")


def list_customers(db, tenant_id: str, *, q: str | None = None, tag: str | None = None,
                   status: str | None = None, created_from: datetime | None = None,
                   created_to: datetime | None = None, cursor: str | None = None,
                   limit: int = 50, custom: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
    """Newest first. ``q`` matches the start of the name or of the email, case-insensitively.

    ``custom`` filters on custom field values: ``(key, operator, value)``, see
    :func:`readmodels.custom_fields.filters`.

    The page is found by its keys alone, then its rows are read by id (an index lookup), in
    one snapshot: ordering a large tenant's rows with every column carried along was most of
    the list's time (docs/PERFORMANCE.md).
    """
    with snapshot(db):
        where, params = directory_filters(db, tenant_id, "customers", q=q, tag=tag,
                                          status=status, created_from=created_from,
                                          created_to=created_to, custom=custom)
        clause, values = keyset.older_than(cursor, "created_at")
        where += clause
        params += values
        ids = [row[0] for row in db.execute(
            f"SELECT id FROM customers WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, id DESC LIMIT ?", params + [limit + 1]).fetchall()]
        rows = as_dicts(db.execute(
            f"SELECT {', '.join(DIRECTORY_COLUMNS)} FROM customers "
            f"WHERE id IN ({', '.join('?' * len(ids))})", ids)) if ids else []
    place = {customer_id: n for n, customer_id in enumerate(ids)}
    rows.sort(key=lambda row: place[row["id"]])
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
        # lower(email): an address keeps its local part's capitals (Ada.Potter@), a search should
        # not care. ILIKE first rejects most rows without lowering them (lowering every address
        # was a third of a search at 100k customers); a % or _ in q only widens it, so the exact
        # test after it decides (tests/test_customers_api.py checks the two select alike).
        where.append(f"(starts_with({table}.name_lower, ?) OR ({table}.email ILIKE ? "
                     f"AND starts_with(lower({table}.email), ?)))")
        params += [prefix, prefix + "%", prefix]
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
    return customer360.customer_360(db, tenant_id, customer_id)


def customer_exists(db, tenant_id: str, customer_id: UUID) -> bool:
    # By id alone first: DuckDB reads the primary key's index only when that is the only filter.
    return db.execute("WITH c AS MATERIALIZED (SELECT tenant_id FROM customers WHERE id = ?) "
                      "SELECT 1 FROM c WHERE tenant_id = ?", [customer_id, tenant_id]).fetchone() is not None
