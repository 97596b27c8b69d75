"""Campaigns and their messages: one row per campaign, one per message (its state and when each
thing happened to it), and one per customer left out at launch with the reason.

Counts per campaign are not kept here but aggregated from the message rows
when asked: a message's events all come from its own aggregate, so its row is
always right whatever order campaigns and messages arrive in.
"""

from __future__ import annotations

from projections.envelope import Envelope
from readmodels.changes import Append, Change, Upsert

NAME = "campaigns"

# Message event -> (status it sets or None, the column stamped with the time)
MESSAGE_EVENTS = {
    "Message.SendStarted": ("sending", None),
    "Message.Sent": ("sent", "sent_at"),
    "Message.Delivered": ("delivered", "delivered_at"),
    "Message.Bounced": ("bounced", "bounced_at"),
    "Message.Suppressed": ("suppressed", "failed_at"),
    "Message.Opened": (None, "opened_at"),
    "Message.Clicked": (None, "clicked_at"),
    "Message.Unsubscribed": (None, "unsubscribed_at"),
}


def handle(e: Envelope) -> list[Change]:
    if e.type.startswith("Campaign."):
        return _campaign(e)
    if e.type.startswith("Message."):
        return _message(e)
    return []


def _campaign(e: Envelope) -> list[Change]:
    d = e.data
    key = {"id": e.stream}
    touched = {"updated_at": e.occurred_at}
    match e.type:
        case "Campaign.Drafted":
            row = {"tenant_id": e.tenant, "name": d["name"], "channel": d["channel"],
                   "subject": d["subject"], "status": "draft", "audience_size": 0,
                   "created_at": e.occurred_at, **touched}
        case "Campaign.Scheduled":
            row = {"status": "scheduled", "scheduled_for": d["scheduled_for"], "launch_error": None,
                   **touched}
        case "Campaign.Launched":
            row = {"status": "running", "audience_size": len(d["customer_ids"]),
                   "launched_at": e.occurred_at, **touched}
        case "Campaign.Dispatched":
            return [Upsert("campaigns", key, set={
                "recipients": d["recipients"], "suppressed": len(d["suppressed"]),
                "per_minute": d["per_minute"], **touched})] + [
                Append("campaign_suppressed", {"campaign_id": e.stream, "tenant_id": e.tenant,
                                               "customer_id": customer, "reason": reason})
                for customer, reason in d["suppressed"].items()]
        case "Campaign.Completed":
            row = {"status": "completed", "completed_at": e.occurred_at, **touched}
        case "Campaign.Cancelled":
            row = {"status": "cancelled", **touched}
        case "Campaign.TemplateChosen":
            row = {"template_id": d["template_id"], "template_version": d["template_version"],
                   **touched}
        case "Campaign.AudienceChosen":
            row = {"audience_chosen": len(d["customer_ids"]), "segment_id": None, **touched}
        case "Campaign.SegmentChosen":
            row = {"segment_id": d["segment_id"], "audience_chosen": None, **touched}
        case "Campaign.LaunchFailed":
            row = {"status": "draft", "scheduled_for": None, "launch_error": d["reason"], **touched}
        case _:
            return []
    return [Upsert("campaigns", key, set=row)]


def _message(e: Envelope) -> list[Change]:
    d = e.data
    key = {"id": e.stream}
    if e.type == "Message.Queued":
        return [Upsert("campaign_messages", key, set={
            "tenant_id": e.tenant, "campaign_id": d["campaign_id"],
            "automation_id": d["automation_id"], "step": d["step"], "customer_id": d["customer_id"],
            "channel": d["channel"], "template_id": d["template_id"],
            "template_version": d["template_version"], "status": "queued",
            "queued_at": e.occurred_at, "not_before": d["not_before"], "updated_at": e.occurred_at})]
    if e.type == "Message.SendFailed":
        status = "queued" if d["retry_at"] else "failed"
        return [Upsert("campaign_messages", key, set={
            "status": status, "error": d["error"], "not_before": d["retry_at"],
            **({} if d["retry_at"] else {"failed_at": e.occurred_at}),
            "updated_at": e.occurred_at})]
    if e.type not in MESSAGE_EVENTS:
        return []
    status, stamp = MESSAGE_EVENTS[e.type]
    row: dict = {"updated_at": e.occurred_at}
    if status:
        row["status"] = status
    if e.type == "Message.SendStarted":
        return [Upsert("campaign_messages", key, set=row, greatest={"attempts": d["attempt"]})]
    if e.type == "Message.Sent":
        row.update(to_address=d["to"], provider_id=d["provider_id"], error=None, parts=d["parts"])
    if e.type in ("Message.Bounced", "Message.Suppressed"):
        row["error"] = d["reason"]
    if e.type == "Message.Clicked":
        return [Upsert("campaign_messages", key, set=row, add={"clicks": 1},
                       least={"clicked_at": e.occurred_at})]
    return [Upsert("campaign_messages", key, set=row, least={stamp: e.occurred_at})]
