"""Orders: one row per recorded order, the base of spend, RFM and cohort analytics."""

from __future__ import annotations

from decimal import Decimal

from projections.envelope import Envelope
from readmodels.changes import Append, Change

NAME = "orders"


def handle(e: Envelope) -> list[Change]:
    if e.type != "Customer.OrderRecorded":
        return []
    d = e.data
    return [Append("orders", {
        "tenant_id": e.tenant, "customer_id": e.stream, "order_id": d["order_id"],
        "amount": Decimal(d["amount"]), "currency": d["currency"], "item_count": d["item_count"],
        "occurred_at": d["occurred_at"]})]
