"""The generic event table the funnel engine reads (readmodels/funnels.py).

One row per business event: its type, when it happened, the aggregate it is
about, the customer it concerns, and its data as JSON properties (filters and
breakdowns read them). Deal stage changes also get a derived
``Opportunity.StageEntered`` row (from Opened, StageMoved and Reopened, and
Won/Lost when the deal moved into a won/lost stage), so "entered stage X" is
one event type whatever caused it. ``stage`` and ``pipeline_id`` are also columns of their
own (readmodels/funnels.py, TYPED). ``seq`` orders rows (the log position
twice, plus one for a derived row) to break ties between events of one moment. Bulky lists (a campaign's audience) are
left out of the properties.
"""

from __future__ import annotations

import orjson

from projections.envelope import Envelope
from readmodels.changes import Append, Change
from readmodels.funnels import typed_columns

NAME = "funnel_events"
FOLLOWED = ("Customer.", "Opportunity.", "Quote.", "Contract.", "Campaign.", "Task.")
LEFT_OUT = {"customer_ids", "line_items", "lines", "changes", "contact_ids", "terms", "text", "body"}
ENTERS_STAGE = ("Opportunity.Opened", "Opportunity.StageMoved", "Opportunity.Reopened",
                "Opportunity.Won", "Opportunity.Lost")


def _row(e: Envelope, event_type: str, properties: dict, derived: bool = False) -> Append:
    customer = e.stream if e.type.startswith("Customer.") else e.data.get("customer_id")
    return Append("funnel_events", {
        "tenant_id": e.tenant, "position": e.position, "seq": e.position * 2 + derived,
        "event_id": e.event_id,
        "event_type": event_type, "occurred_at": e.data.get("occurred_at") or e.occurred_at,
        "aggregate_id": e.stream, "customer_id": customer,
        "properties": orjson.dumps(properties).decode(), **typed_columns(properties)})


def handle(e: Envelope) -> list[Change]:
    if not e.type.startswith(FOLLOWED):
        return []
    properties = {k: v for k, v in e.data.items() if k not in LEFT_OUT}
    if e.type == "Opportunity.DetailsChanged":
        properties.update(e.data["changes"])
    rows = [_row(e, e.type, properties)]
    if e.type in ENTERS_STAGE and e.data.get("stage") and (
            e.type != "Opportunity.Won" and e.type != "Opportunity.Lost"
            or e.data.get("stage") != e.data.get("previous_stage")):
        rows.append(_row(e, "Opportunity.StageEntered", properties, derived=True))
    return rows
