"""Customer 360 summary: counts, spend, last interaction and open deals per customer.

Opportunity and campaign events update the customer they concern, and may
arrive before that customer's own events (another Kafka partition): every
change here is an increment, a maximum or a minimum, which do not depend on order.
"""

from __future__ import annotations

from decimal import Decimal

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "customer_summary"


def _summary(e: Envelope, customer_id: str, **merge) -> Upsert:
    return Upsert("customer_summaries", {"id": customer_id}, set={"tenant_id": e.tenant}, **merge)


def handle(e: Envelope) -> list[Change]:
    d = e.data
    match e.type:
        case "Customer.Registered":
            return [_summary(e, e.stream, greatest={"last_interaction_at": e.occurred_at})]
        case "Customer.NoteAdded":
            return [_summary(e, e.stream, add={"note_count": 1},
                             greatest={"last_interaction_at": e.occurred_at})]
        case "Customer.CommunicationLogged":
            return [_summary(e, e.stream, add={"communication_count": 1},
                             greatest={"last_interaction_at": d["occurred_at"]})]
        case "Customer.OrderRecorded":
            return [
                _summary(e, e.stream, add={"order_count": 1},
                         greatest={"last_order_at": d["occurred_at"],
                                   "last_interaction_at": d["occurred_at"]},
                         least={"first_order_at": d["occurred_at"]}),
                Upsert("customer_spend", {"customer_id": e.stream, "currency": d["currency"]},
                       set={"tenant_id": e.tenant}, add={"total": Decimal(d["amount"]), "orders": 1}),
            ]
        case "Opportunity.Opened":
            return [_summary(e, d["customer_id"], add={"open_opportunities": 1},
                             greatest={"last_interaction_at": e.occurred_at})]
        case "Opportunity.Won":
            return [_summary(e, d["customer_id"],
                             add={"open_opportunities": -1, "won_opportunities": 1})]
        case "Opportunity.Lost":
            return [_summary(e, d["customer_id"], add={"open_opportunities": -1})]
        case "Opportunity.Reopened":
            won = -1 if d["previous_status"] == "won" else 0
            return [_summary(e, d["customer_id"],
                             add={"open_opportunities": 1, "won_opportunities": won})]
        case "Campaign.Launched":
            return [_summary(e, customer_id, add={"campaigns_received": 1},
                             greatest={"last_interaction_at": e.occurred_at})
                    for customer_id in d["customer_ids"]]
    return []
