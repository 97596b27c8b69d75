"""Quotes: one row per quote with its current revision, status and totals."""

from __future__ import annotations

from decimal import Decimal

import orjson

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "quotes"


def _offer(d: dict) -> dict:
    return {"lines": orjson.dumps(d["lines"]).decode(), "tax_rate": Decimal(d["tax_rate"]),
            "terms": d["terms"], "valid_until": d["valid_until"],
            "subtotal": Decimal(d["subtotal"]), "tax": Decimal(d["tax"]), "total": Decimal(d["total"])}


def handle(e: Envelope) -> list[Change]:
    if not e.type.startswith("Quote."):
        return []
    d = e.data
    row: dict = {"tenant_id": e.tenant, "version": e.version, "updated_at": e.occurred_at}
    match e.type:
        case "Quote.Drafted":
            row.update(opportunity_id=d["opportunity_id"], customer_id=d["customer_id"],
                       number=d["number"], revision=1, status="draft", currency=d["currency"],
                       created_at=e.occurred_at, **_offer(d))
        case "Quote.Revised":
            row.update(revision=d["revision"], status="draft", sent_at=None, **_offer(d))
        case "Quote.Sent":
            row.update(status="sent", sent_at=e.occurred_at)
        case "Quote.Accepted":
            row.update(status="accepted", decided_at=e.occurred_at)
        case "Quote.Rejected":
            row.update(status="rejected", decided_at=e.occurred_at, reason=d["reason"])
        case "Quote.Expired":
            row.update(status="expired", decided_at=e.occurred_at)
        case _:
            return []
    return [Upsert("quotes", {"id": e.stream}, set=row)]
