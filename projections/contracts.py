"""Contracts: one row per contract, for lists and "up for renewal within N days"."""

from __future__ import annotations

from decimal import Decimal

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "contracts"


def handle(e: Envelope) -> list[Change]:
    if not e.type.startswith("Contract."):
        return []
    d = e.data
    row: dict = {"tenant_id": e.tenant, "version": e.version, "updated_at": e.occurred_at}
    match e.type:
        case "Contract.Created":
            row.update(customer_id=d["customer_id"], opportunity_id=d["opportunity_id"],
                       title=d["title"], type=d["type"], status="draft",
                       start_date=d["start_date"], end_date=d["end_date"],
                       renewal_date=d["renewal_date"], auto_renew=d["auto_renew"],
                       value=None if d["value"] is None else Decimal(d["value"]),
                       currency=d["currency"], renewals=0, created_at=e.occurred_at)
        case "Contract.Activated":
            row["status"] = "active"
        case "Contract.Renewed":
            row.update(end_date=d["end_date"], renewal_date=d["renewal_date"],
                       renewals=d["renewals"])
        case "Contract.Cancelled":
            row.update(status="cancelled", reason=d["reason"])
        case _:
            return []
    return [Upsert("contracts", {"id": e.stream}, set=row)]
