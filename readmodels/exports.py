"""Customer lists for export (CSV, XLSX) and the email lookup imports deduplicate with."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from readmodels import custom_fields
from readmodels.customers import directory_filters

BASE_COLUMNS = ("id", "name", "email", "phone", "source", "tags", "status", "lifecycle_stage",
                "owner", "order_count", "lifetime_spend", "currency", "last_order_at",
                "created_at")
PAGE = 2000


def customer_id_by_email(db, tenant_id: str, email: str) -> UUID | None:
    row = db.execute("SELECT id FROM customers WHERE tenant_id = ? AND lower(email) = lower(?) "
                     "ORDER BY created_at, id LIMIT 1", [tenant_id, email]).fetchone()
    return row[0] if row else None


def export_columns(db, tenant_id: str) -> list[str]:
    return [*BASE_COLUMNS, *(f"custom.{d['key']}" for d in custom_fields.definitions(db, tenant_id))]


def export_rows(db, tenant_id: str, *, segment_id: UUID | None = None, q: str | None = None,
                tag: str | None = None, status: str | None = None,
                created_from: datetime | None = None, created_to: datetime | None = None,
                custom: list[tuple[str, str, str]] | None = None) -> Iterator[dict[str, Any]]:
    """Every matching customer (a segment's members, or the directory filters), oldest first,
    read page by page so that a large export never holds all rows at once."""
    where, params = directory_filters(db, tenant_id, "c", q=q, tag=tag, status=status,
                                      created_from=created_from, created_to=created_to,
                                      custom=custom)
    if segment_id is not None:
        where.append("c.id IN (SELECT customer_id FROM segment_members WHERE segment_id = ? "
                     "AND is_member)")
        params.append(segment_id)
    keys = [d["key"] for d in custom_fields.definitions(db, tenant_id)]
    after: list[Any] | None = None
    while True:
        page_where = list(where)
        page_params = list(params)
        if after:
            page_where.append("(c.created_at, c.id) > (?::TIMESTAMPTZ, ?::UUID)")
            page_params += after
        result = db.execute(f"""
            WITH spend AS (SELECT customer_id, total, currency FROM customer_spend
                           WHERE tenant_id = ? QUALIFY row_number() OVER (
                               PARTITION BY customer_id ORDER BY orders DESC, total DESC) = 1)
            SELECT c.id, c.name, c.email, c.phone, c.source, c.tags, c.status,
                   coalesce(l.stage, 'customer') AS lifecycle_stage, l.owner,
                   coalesce(s.order_count, 0) AS order_count,
                   coalesce(sp.total, 0)::VARCHAR AS lifetime_spend, sp.currency, s.last_order_at,
                   c.created_at,
                   (SELECT map_from_entries(list((v.key, v.value_json)))
                    FROM custom_field_values v WHERE v.customer_id = c.id
                    AND v.value_json IS NOT NULL) AS custom
            FROM customers c LEFT JOIN customer_summaries s ON s.id = c.id
            LEFT JOIN lifecycle l ON l.customer_id = c.id
            LEFT JOIN spend sp ON sp.customer_id = c.id
            WHERE {' AND '.join(page_where)} ORDER BY c.created_at, c.id LIMIT ?""",
            [tenant_id, *page_params, PAGE])
        columns = [d[0] for d in result.description]
        rows = [dict(zip(columns, row)) for row in result.fetchall()]
        for row in rows:
            custom = row.pop("custom") or {}
            for key in keys:
                value = orjson.loads(custom[key]) if key in custom else None
                row[f"custom.{key}"] = "; ".join(value) if isinstance(value, list) else value
            row["tags"] = "; ".join(row["tags"] or [])
            yield row
        if len(rows) < PAGE:
            return
        after = [str(rows[-1]["created_at"]), str(rows[-1]["id"])]
