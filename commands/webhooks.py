"""Webhook commands: subscribe, change, pause, resume, delete, rotate the secret; replay a
delivery. The signing secret is generated here and shown once (create, rotate)."""

from __future__ import annotations

import secrets
from uuid import UUID

from pydantic import Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command
from commands.errors import NotFound
from commands.webhook_urls import check_subscription_url
from domain.base import Meta
from domain.webhook import MAX_FILTERS, WebhookDelivery, WebhookSubscription


class CreateWebhook(Command):
    url: str = Field(max_length=2000, description="where events are POSTed (http or https)")
    event_types: list[str] = Field(min_length=1, max_length=MAX_FILTERS,
                                   examples=[["Customer.OrderRecorded", "Opportunity.*"]],
                                   description="exact types, families such as Customer.*, or *")
    description: str | None = Field(default=None, max_length=500)


class ChangeWebhook(Command):
    url: str | None = Field(default=None, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=MAX_FILTERS)
    description: str | None = Field(default=None, max_length=500)


class Empty(Command):
    pass


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def create(crm: Crm, meta: Meta, cmd: CreateWebhook, idem: Idempotency | None = None,
           allow_private: bool = False) -> Outcome:
    """``allow_private``: CRM_WEBHOOKS_ALLOW_PRIVATE (commands/webhook_urls.py)."""
    check_subscription_url(cmd.url, allow_private)
    return crm.create(meta, lambda: WebhookSubscription.create(
        meta, cmd.url, cmd.event_types, cmd.description, new_secret()), idem)


def secret_of(crm: Crm, tenant_id: str, subscription_id: UUID) -> str:
    return crm.load(WebhookSubscription, subscription_id, tenant_id).secret


def change(crm: Crm, meta: Meta, subscription_id: UUID, cmd: ChangeWebhook,
           expected_version: int | None = None, idem: Idempotency | None = None,
           allow_private: bool = False) -> Outcome:
    if cmd.url is not None:
        check_subscription_url(cmd.url, allow_private)
    return crm.change(WebhookSubscription, subscription_id, meta,
                      lambda s: s.change(meta, cmd.url, cmd.event_types, cmd.description),
                      expected_version, idem)


def rotate_secret(crm: Crm, meta: Meta, subscription_id: UUID,
                  expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(WebhookSubscription, subscription_id, meta,
                      lambda s: s.rotate_secret(meta, new_secret()), expected_version, idem)


def pause(crm: Crm, meta: Meta, subscription_id: UUID, expected_version: int | None = None,
          idem: Idempotency | None = None) -> Outcome:
    return crm.change(WebhookSubscription, subscription_id, meta, lambda s: s.pause(meta),
                      expected_version, idem)


def resume(crm: Crm, meta: Meta, subscription_id: UUID, expected_version: int | None = None,
           idem: Idempotency | None = None) -> Outcome:
    return crm.change(WebhookSubscription, subscription_id, meta, lambda s: s.resume(meta),
                      expected_version, idem)


def delete(crm: Crm, meta: Meta, subscription_id: UUID, expected_version: int | None = None,
           idem: Idempotency | None = None) -> Outcome:
    return crm.change(WebhookSubscription, subscription_id, meta, lambda s: s.delete(meta),
                      expected_version, idem)


def replay(crm: Crm, meta: Meta, subscription_id: UUID, delivery_id: UUID,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    delivery = crm.load(WebhookDelivery, delivery_id, meta.tenant_id)
    if delivery.subscription_id != subscription_id:
        raise NotFound(f"no delivery {delivery_id} of subscription {subscription_id}")
    crm.load(WebhookSubscription, subscription_id, meta.tenant_id)
    return crm.change(WebhookDelivery, delivery_id, meta, lambda d: d.replay(meta),
                      expected_version, idem)
