"""Lead-scoring signals: one row per scoreable thing a customer did or received.

The score itself is not stored: :mod:`readmodels.lead_scores` weighs these
signals and the customer's current attributes with the tenant's *current*
rules in one SQL query, so a change of the rules rescores every customer at
once (no rebuild) and the score never depends on the order in which the rules
and the signals arrived.
"""

from __future__ import annotations

from decimal import Decimal

from projections.envelope import Envelope
from readmodels.changes import Append, Change

NAME = "lead_scoring"
_EMPTY = {"amount": None, "currency": None, "channel": None, "direction": None,
          "engagement": None}


def _signal(e: Envelope, customer_id: str, kind: str, occurred_at: str, **fields) -> Append:
    return Append("score_signals", {"tenant_id": e.tenant, "customer_id": customer_id,
                                    "position": e.position, "kind": kind,
                                    "occurred_at": occurred_at, **_EMPTY, **fields})


def handle(e: Envelope) -> list[Change]:
    d = e.data
    match e.type:
        case "Customer.OrderRecorded":
            return [_signal(e, e.stream, "order", d["occurred_at"], amount=Decimal(d["amount"]),
                            currency=d["currency"])]
        case "Customer.CommunicationLogged":
            return [_signal(e, e.stream, "communication", d["occurred_at"], channel=d["channel"],
                            direction=d["direction"])]
        case "Customer.EngagementTracked":
            return [_signal(e, e.stream, "engagement", d["occurred_at"], engagement=d["kind"])]
        case "Customer.NoteAdded":
            return [_signal(e, e.stream, "note", e.occurred_at)]
        case "Campaign.Launched":
            return [_signal(e, customer_id, "campaign", e.occurred_at)
                    for customer_id in d["customer_ids"]]
    return []
