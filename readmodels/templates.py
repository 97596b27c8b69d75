"""Queries of templates, and the values a preview renders a template with."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson

from readmodels import cursor as keyset
from readmodels.rows import as_dicts

TEMPLATE_COLUMNS = ("id", "name", "channel", "status", "latest_version", "approved_version",
                    "created_at", "updated_at")
VERSION_COLUMNS = ("version", "subject", "html", "text", "sms", "note", "status", "drafted_at",
                   "drafted_by", "reviewed_at", "reviewed_by", "review_note")


def list_templates(db, tenant_id: str, *, channel: str | None = None, status: str | None = None,
                   cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Newest first."""
    where, params = ["tenant_id = ?"], [tenant_id]
    if channel:
        where.append("channel = ?")
        params.append(channel)
    if status:
        where.append("status = ?")
        params.append(status)
    clause, values = keyset.older_than(cursor, "created_at")
    where += clause
    params += values
    rows = as_dicts(db.execute(
        f"SELECT {', '.join(TEMPLATE_COLUMNS)} FROM templates WHERE {' AND '.join(where)} "
        "ORDER BY created_at DESC, id DESC LIMIT ?", params + [limit + 1]))
    return keyset.page(rows, limit, ("created_at", "id"))


def _version(row: dict[str, Any]) -> dict[str, Any]:
    row["sms"] = orjson.loads(row["sms"]) if row["sms"] else None
    return row


def get_template(db, tenant_id: str, template_id: UUID) -> dict[str, Any] | None:
    found = as_dicts(db.execute(f"SELECT {', '.join(TEMPLATE_COLUMNS)} FROM templates "
                             "WHERE id = ? AND tenant_id = ?", [template_id, tenant_id]))
    if not found:
        return None
    template = found[0]
    template["versions"] = [_version(row) for row in as_dicts(db.execute(
        f"SELECT {', '.join(VERSION_COLUMNS)} FROM template_versions WHERE template_id = ? "
        "ORDER BY version", [template_id]))]
    return template


def customer_values(db, tenant_id: str, customer_id: UUID) -> dict[str, Any] | None:
    """A customer's profile, every active custom field (None when unset) and the newest order:
    what :func:`domain.rendering.context` takes. None if no such customer in this tenant."""
    found = as_dicts(db.execute("SELECT id, name, email, phone, source, tags FROM customers "
                             "WHERE id = ? AND tenant_id = ?", [customer_id, tenant_id]))
    if not found:
        return None
    custom = {key: orjson.loads(value) if value is not None else None
              for key, value in db.execute(
                  "SELECT d.key, v.value_json FROM custom_field_definitions d "
                  "LEFT JOIN custom_field_values v ON v.customer_id = ? AND v.key = d.key "
                  "WHERE d.tenant_id = ? AND NOT d.retired", [customer_id, tenant_id]).fetchall()}
    orders = as_dicts(db.execute(
        "SELECT order_id, amount, currency, item_count, occurred_at FROM orders "
        "WHERE customer_id = ? ORDER BY occurred_at DESC LIMIT 1", [customer_id]))
    return {"customer": found[0], "custom": custom, "order": orders[0] if orders else None}
