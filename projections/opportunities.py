"""Opportunities: one row per deal, for the by-stage lists and the customer 360."""

from __future__ import annotations

from decimal import Decimal

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "opportunities"


def handle(e: Envelope) -> list[Change]:
    d = e.data
    updated = {"updated_at": e.occurred_at}
    match e.type:
        case "Opportunity.Opened":
            row = {"tenant_id": e.tenant, "customer_id": d["customer_id"], "title": d["title"],
                   "value": Decimal(d["value"]), "currency": d["currency"], "stage": d["stage"],
                   "status": "open", "owner": d["owner"], "expected_close": d["expected_close"],
                   "opened_at": d.get("occurred_at") or e.occurred_at, **updated}
        case "Opportunity.ValueChanged":
            row = {"value": Decimal(d["value"]), "currency": d["currency"], **updated}
        case "Opportunity.StageMoved":
            row = {"stage": d["stage"], **updated}
        case "Opportunity.LineItemsChanged":
            row = {"value": Decimal(d["value"]), **updated}
        case "Opportunity.DetailsChanged":
            row = {k: v for k, v in d["changes"].items() if k in ("title", "owner", "expected_close")}
            row.update(updated)
        case "Opportunity.Won":
            row = {"status": "won", "closed_at": d.get("occurred_at") or e.occurred_at, **updated}
            if d.get("stage"):
                row["stage"] = d["stage"]
        case "Opportunity.Lost":
            row = {"status": "lost", "lost_reason": d["reason"],
                   "closed_at": d.get("occurred_at") or e.occurred_at, **updated}
            if d.get("stage"):
                row["stage"] = d["stage"]
        case "Opportunity.Reopened":
            row = {"status": "open", "stage": d["stage"], "lost_reason": None, "closed_at": None,
                   **updated}
        case _:
            return []
    return [Upsert("opportunities", {"id": e.stream}, set=row)]
