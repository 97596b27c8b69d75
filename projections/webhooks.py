"""Webhooks: subscriptions (never their secret), one row per delivery (its state, the dead
letters among them), and one per attempt: the delivery log."""

from __future__ import annotations

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "webhooks"

SUBSCRIPTION_STATUS = {"WebhookSubscription.Paused": "paused",
                       "WebhookSubscription.Resumed": "active",
                       "WebhookSubscription.Deleted": "deleted"}


def handle(e: Envelope) -> list[Change]:
    d = e.data
    touched = {"updated_at": e.occurred_at}
    if e.type == "WebhookSubscription.Created":
        return [Upsert("webhook_subscriptions", {"id": e.stream}, set={
            "tenant_id": e.tenant, "url": d["url"], "event_types": d["event_types"],
            "description": d["description"], "status": "active", "secret_rotated_at": None,
            "created_at": e.occurred_at, **touched})]
    if e.type == "WebhookSubscription.Changed":
        return [Upsert("webhook_subscriptions", {"id": e.stream}, set={
            "url": d["url"], "event_types": d["event_types"], "description": d["description"],
            **touched})]
    if e.type == "WebhookSubscription.SecretRotated":
        return [Upsert("webhook_subscriptions", {"id": e.stream},
                       set={"secret_rotated_at": e.occurred_at, **touched})]
    if e.type in SUBSCRIPTION_STATUS:
        return [Upsert("webhook_subscriptions", {"id": e.stream},
                       set={"status": SUBSCRIPTION_STATUS[e.type], **touched})]
    if not e.type.startswith("WebhookDelivery."):
        return []
    delivery = {"id": e.stream}
    match e.type:
        case "WebhookDelivery.Started":
            return [Upsert("webhook_deliveries", delivery, set={
                "tenant_id": e.tenant, "subscription_id": d["subscription_id"],
                "event_id": d["event_id"], "event_type": d["event_type"], "position": d["position"],
                "status": "delivering", "attempts": 1, "next_attempt_at": None,
                "created_at": e.occurred_at, **touched}),
                _attempt(e, 1, started_at=e.occurred_at, worker=d["worker"], outcome="pending")]
        case "WebhookDelivery.AttemptStarted":
            return [Upsert("webhook_deliveries", delivery, set={
                "status": "delivering", "attempts": d["attempt"], "next_attempt_at": None,
                **touched}),
                _attempt(e, d["attempt"], started_at=e.occurred_at, worker=d["worker"],
                         outcome="pending")]
        case "WebhookDelivery.Succeeded":
            return [Upsert("webhook_deliveries", delivery, set={
                "status": "delivered", "last_status_code": d["status_code"], "last_error": None,
                "delivered_at": e.occurred_at, **touched}),
                _attempt(e, d["attempt"], outcome="delivered", status_code=d["status_code"],
                         error=None, duration_ms=d["duration_ms"], finished_at=e.occurred_at)]
        case "WebhookDelivery.AttemptFailed":
            return [Upsert("webhook_deliveries", delivery, set={
                "status": "waiting", "last_status_code": d["status_code"], "last_error": d["error"],
                "next_attempt_at": d["retry_at"], **touched}),
                _attempt(e, d["attempt"], outcome="failed", status_code=d["status_code"],
                         error=d["error"], duration_ms=d["duration_ms"], finished_at=e.occurred_at)]
        case "WebhookDelivery.DeadLettered":
            return [Upsert("webhook_deliveries", delivery, set={
                "status": "dead", "dead_reason": d["reason"], "dead_at": e.occurred_at,
                "next_attempt_at": None, **touched})]
        case "WebhookDelivery.ReplayRequested":
            return [Upsert("webhook_deliveries", delivery, set={
                "status": "waiting", "replayed_at": e.occurred_at, "replayed_by": e.actor,
                **touched})]
    return []


def _attempt(e: Envelope, attempt: int, **columns) -> Upsert:
    return Upsert("webhook_attempts", {"delivery_id": e.stream, "attempt": attempt},
                  set={"tenant_id": e.tenant, **columns})
