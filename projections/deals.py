"""Deals on the pipeline board, and each deal's change history (like Salesforce's OpportunityHistory).

``deals`` has one row per deal with what the board, analytics and forecasts
need (pipeline, stage, probability, when it entered its stage, its last
activity). ``deal_history`` gets one row per change of stage, amount,
probability, close date or status; a column the change did not touch is NULL,
and queries carry the last known value forward (``last_value(... IGNORE NULLS)``),
which is how "the deal as it was on day D" is answered.

A deal's business time is ``occurred_at`` when the event has one (imported
history), else when the event was recorded.
"""

from __future__ import annotations

from decimal import Decimal

import orjson

from domain.pipeline import DEFAULT_STAGES
from projections.envelope import Envelope
from readmodels.changes import Append, Change, Upsert

NAME = "deals"
DEFAULT_PROBABILITY = {stage["id"]: stage["probability"] for stage in DEFAULT_STAGES}


def _money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def handle(e: Envelope) -> list[Change]:
    d = e.data
    if e.type.startswith("Quote.") and d.get("opportunity_id"):
        # Work on a quote is activity on its deal (for "no activity for N days" and rotting).
        return [Upsert("deals", {"id": d["opportunity_id"]}, set={"tenant_id": e.tenant},
                       greatest={"last_activity_at": e.occurred_at})]
    if not e.type.startswith("Opportunity."):
        return []
    at = d.get("occurred_at") or e.occurred_at
    row: dict = {"tenant_id": e.tenant, "version": e.version}
    history: dict | None = None
    match e.type:
        case "Opportunity.Opened":
            probability = d.get("probability")
            if probability is None:
                probability = DEFAULT_PROBABILITY.get(d["stage"], 10)
            row.update(pipeline_id=d.get("pipeline_id"), customer_id=d["customer_id"],
                       title=d["title"], value=Decimal(d["value"]), currency=d["currency"],
                       stage=d["stage"], status="open", probability=probability, owner=d["owner"],
                       source=d.get("source"), expected_close=d["expected_close"], opened_at=at,
                       stage_entered_at=at, closed_at=None, reason=None,
                       line_items=orjson.dumps(d.get("line_items", [])).decode(),
                       contact_ids=d.get("contact_ids", []))
            history = dict(change="opened", stage=d["stage"], amount=Decimal(d["value"]),
                           probability=probability, expected_close=d["expected_close"],
                           status="open")
        case "Opportunity.ValueChanged":
            row.update(value=Decimal(d["value"]), currency=d["currency"])
            history = dict(change="amount", amount=Decimal(d["value"]))
        case "Opportunity.LineItemsChanged":
            row.update(value=Decimal(d["value"]), line_items=orjson.dumps(d["line_items"]).decode())
            history = dict(change="amount", amount=Decimal(d["value"]))
        case "Opportunity.DetailsChanged":
            row.update(d["changes"])
            tracked = {k: v for k, v in d["changes"].items() if k in ("probability", "expected_close")}
            if tracked:
                history = dict(change="details", **tracked)
        case "Opportunity.ContactLinked" | "Opportunity.ContactUnlinked":
            row["contact_ids"] = d["contact_ids"]
        case "Opportunity.StageMoved":
            probability = d.get("probability")
            if probability is None and not d.get("pipeline_id"):
                probability = DEFAULT_PROBABILITY.get(d["stage"])
            row.update(stage=d["stage"], stage_entered_at=at)
            if probability is not None:
                row["probability"] = probability
            history = dict(change="stage", stage=d["stage"], previous_stage=d["previous_stage"],
                           amount=_money(d.get("amount")), probability=probability,
                           expected_close=d.get("expected_close"))
        case "Opportunity.Won" | "Opportunity.Lost":
            status = "won" if e.type.endswith("Won") else "lost"
            row.update(status=status, closed_at=at, reason=d.get("reason"),
                       probability=100 if status == "won" else 0)
            moved = d.get("stage") and d.get("stage") != d.get("previous_stage")
            if moved:
                row.update(stage=d["stage"], stage_entered_at=at)
            history = dict(change=status, status=status, probability=row["probability"],
                           stage=d["stage"] if moved else None,
                           previous_stage=d.get("previous_stage") if moved else None,
                           amount=_money(d.get("value")))
        case "Opportunity.Reopened":
            row.update(status="open", stage=d["stage"], stage_entered_at=at, closed_at=None,
                       reason=None, probability=d["probability"])
            history = dict(change="reopened", status="open", stage=d["stage"],
                           previous_stage=d["previous_stage"], probability=d["probability"])
        case _:
            return []
    changes: list[Change] = [Upsert("deals", {"id": e.stream}, set=row,
                                    greatest={"last_activity_at": at})]
    if history is not None:
        changes.append(Append("deal_history", {
            "tenant_id": e.tenant, "deal_id": e.stream, "version": e.version, "changed_at": at,
            "actor": e.actor, "stage": None, "previous_stage": None, "amount": None,
            "probability": None, "expected_close": None, "status": None, **history}))
    return changes
