"""Webhook routes: subscriptions (create, change, pause, resume, delete, rotate the secret),
their deliveries with every attempt, the dead letters, and replays."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import CallerDep, CommandDep, ReaderDep
from api.marketing_deps import MarketingDep
from api.marketing_models import DeliveryRow, WebhookCreated, WebhookDetail, WebhookRow
from api.models import CommandAccepted, Page
from api.routes import Route
from commands import webhooks as handlers
from commands.errors import NotFound
from readmodels import webhooks as queries

command_router = APIRouter(route_class=Route, prefix="/v1/webhooks", tags=["webhooks"])
query_router = APIRouter(route_class=Route, prefix="/v1/webhooks", tags=["webhooks"])
Cursor = Annotated[str | None, Query(max_length=500)]
Limit = Annotated[int, Query(ge=1, le=200)]
DeliveryStatus = Literal["delivering", "waiting", "delivered", "dead"]


@command_router.post("", status_code=201, response_model=WebhookCreated)
def create_webhook(body: handlers.CreateWebhook, ctx: CommandDep, marketing: MarketingDep):
    """Subscribes a URL to event types (exact, `Family.*` or `*`) of events from now on. The
    answer carries the signing secret: it is shown only here (and when rotated). The URL's
    host must be a public address (not loopback, private or link-local) unless the service
    runs with CRM_WEBHOOKS_ALLOW_PRIVATE=1."""
    outcome = handlers.create(ctx.crm, ctx.meta, body, ctx.idem, marketing.webhooks_allow_private)
    return {**outcome.as_dict(), "secret": handlers.secret_of(ctx.crm, ctx.meta.tenant_id, outcome.id)}


@command_router.patch("/{subscription_id}", response_model=CommandAccepted)
def change_webhook(subscription_id: UUID, body: handlers.ChangeWebhook, ctx: CommandDep,
                   marketing: MarketingDep):
    return handlers.change(ctx.crm, ctx.meta, subscription_id, body, ctx.expected_version,
                           ctx.idem, marketing.webhooks_allow_private).as_dict()


@command_router.post("/{subscription_id}/rotate-secret", response_model=WebhookCreated)
def rotate_secret(subscription_id: UUID, ctx: CommandDep):
    """A new signing secret, effective for the next attempt of every delivery."""
    outcome = handlers.rotate_secret(ctx.crm, ctx.meta, subscription_id, ctx.expected_version,
                                     ctx.idem)
    return {**outcome.as_dict(), "secret": handlers.secret_of(ctx.crm, ctx.meta.tenant_id, outcome.id)}


@command_router.post("/{subscription_id}/pause", response_model=CommandAccepted)
def pause_webhook(subscription_id: UUID, ctx: CommandDep):
    """Events while paused are not delivered; deliveries still pending become dead letters
    (replay them after resuming)."""
    return handlers.pause(ctx.crm, ctx.meta, subscription_id, ctx.expected_version,
                          ctx.idem).as_dict()


@command_router.post("/{subscription_id}/resume", response_model=CommandAccepted)
def resume_webhook(subscription_id: UUID, ctx: CommandDep):
    return handlers.resume(ctx.crm, ctx.meta, subscription_id, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.delete("/{subscription_id}", response_model=CommandAccepted)
def delete_webhook(subscription_id: UUID, ctx: CommandDep):
    return handlers.delete(ctx.crm, ctx.meta, subscription_id, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.post("/{subscription_id}/deliveries/{delivery_id}/replay",
                     response_model=CommandAccepted)
def replay_delivery(subscription_id: UUID, delivery_id: UUID, ctx: CommandDep):
    """Delivers the event again (a dead letter, or one the receiver lost), with the same
    `Webhook-Id`, and a fresh budget of attempts."""
    return handlers.replay(ctx.crm, ctx.meta, subscription_id, delivery_id, ctx.expected_version,
                           ctx.idem).as_dict()


@query_router.get("", response_model=list[WebhookRow])
def list_webhooks(caller: CallerDep, db: ReaderDep, include_deleted: bool = False):
    return queries.list_subscriptions(db, caller.tenant_id, include_deleted)


@query_router.get("/dead-letters", response_model=Page[DeliveryRow])
def dead_letters(caller: CallerDep, db: ReaderDep, cursor: Cursor = None, limit: Limit = 50):
    """Every delivery of the tenant that gave up, newest event first, with its attempts."""
    return queries.deliveries(db, caller.tenant_id, status="dead", cursor=cursor, limit=limit)


@query_router.get("/{subscription_id}", response_model=WebhookDetail)
def get_webhook(subscription_id: UUID, caller: CallerDep, db: ReaderDep):
    found = queries.get_subscription(db, caller.tenant_id, subscription_id)
    if found is None:
        raise NotFound(f"no webhook subscription {subscription_id}")
    return found


@query_router.get("/{subscription_id}/deliveries", response_model=Page[DeliveryRow])
def subscription_deliveries(subscription_id: UUID, caller: CallerDep, db: ReaderDep,
                            status: DeliveryStatus | None = None, cursor: Cursor = None,
                            limit: Limit = 50):
    """The delivery log: each event sent to this subscription and every attempt at it."""
    get_webhook(subscription_id, caller, db)
    return queries.deliveries(db, caller.tenant_id, subscription_id=subscription_id,
                              status=status, cursor=cursor, limit=limit)


@query_router.get("/{subscription_id}/deliveries/{delivery_id}", response_model=DeliveryRow)
def get_delivery(subscription_id: UUID, delivery_id: UUID, caller: CallerDep, db: ReaderDep):
    found = queries.get_delivery(db, caller.tenant_id, delivery_id)
    if found is None or found["subscription_id"] != subscription_id:
        raise NotFound(f"no delivery {delivery_id}")
    return found
