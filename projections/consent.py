"""Preferences and consent: the current state per customer and channel, for the 360 view and
the consent lookup that campaigns use before they send anything."""

from __future__ import annotations

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "consent"


def handle(e: Envelope) -> list[Change]:
    d = e.data
    match e.type:
        case "Customer.PreferencesChanged":
            return [Upsert("customer_preferences", {"customer_id": e.stream}, set={
                "tenant_id": e.tenant, "preferred_channel": d["preferred_channel"],
                "frequency": d["frequency"], "topics": d["topics"], "updated_at": e.occurred_at})]
        case "Customer.ConsentRecorded" if d["current"]:
            return [Upsert("customer_consent", {"customer_id": e.stream, "channel": d["channel"]},
                           set={"tenant_id": e.tenant, "status": d["status"], "source": d["source"],
                                "occurred_at": d["occurred_at"], "recorded_at": e.occurred_at})]
    return []
