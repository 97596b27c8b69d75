"""Queries of the quotes read model.

A draft or sent quote past its ``valid_until`` day shows as ``expired`` (with
``expired_at_read``) even before the expire command ran: expiry is judged
against the caller's clock, the same clock the commands use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

COLUMNS = ("id", "version", "opportunity_id", "customer_id", "number", "revision", "status",
           "currency", "subtotal", "tax_rate", "tax", "total", "valid_until", "terms", "lines",
           "reason", "created_at", "sent_at", "decided_at", "updated_at")


def _row(row: tuple, now: datetime) -> dict[str, Any]:
    quote = dict(zip(COLUMNS, row))
    for field in ("subtotal", "tax_rate", "tax", "total"):
        quote[field] = str(quote[field])
    quote["lines"] = orjson.loads(quote["lines"])
    lapsed = quote["status"] in ("draft", "sent") and now.date() > quote["valid_until"]
    quote["stored_status"] = quote["status"]
    if lapsed:
        quote["status"] = "expired"
    return quote


def get_quote(db, tenant_id: str, quote_id: UUID, now: datetime) -> dict[str, Any] | None:
    row = db.execute(f"SELECT {', '.join(COLUMNS)} FROM quotes WHERE id = ? AND tenant_id = ?",
                     [quote_id, tenant_id]).fetchone()
    return _row(row, now) if row else None


def quotes_of_deal(db, tenant_id: str, deal_id: UUID, now: datetime) -> list[dict[str, Any]]:
    rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM quotes WHERE opportunity_id = ? AND "
                      "tenant_id = ? ORDER BY created_at, id", [deal_id, tenant_id]).fetchall()
    return [_row(row, now) for row in rows]


def lapsed_quotes(db, tenant_id: str, now: datetime) -> list[dict[str, Any]]:
    """Draft or sent quotes past their valid-until day: the ones the expire command should close."""
    rows = db.execute(f"SELECT {', '.join(COLUMNS)} FROM quotes WHERE tenant_id = ? AND status IN "
                      "('draft', 'sent') AND valid_until < ? ORDER BY valid_until, id",
                      [tenant_id, now.date()]).fetchall()
    return [_row(row, now) for row in rows]
