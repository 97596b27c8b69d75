"""Campaign commands: draft, schedule, launch, complete, cancel."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal
from uuid import UUID

from pydantic import Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command
from commands.errors import NotFound
from domain.base import DomainError, Meta
from domain.campaign import MAX_AUDIENCE, Campaign
from domain.customer import Customer


class DraftCampaign(Command):
    name: str = Field(max_length=200)
    channel: Literal["email", "sms", "whatsapp"]
    subject: str | None = Field(default=None, max_length=500)
    body: str = Field(max_length=100_000)


class ScheduleCampaign(Command):
    scheduled_for: datetime


class LaunchCampaign(Command):
    customer_ids: list[UUID] = Field(min_length=1, max_length=MAX_AUDIENCE)


class CompleteCampaign(Command):
    pass


class CancelCampaign(Command):
    reason: str | None = Field(default=None, max_length=1000)


def draft(crm: Crm, meta: Meta, cmd: DraftCampaign, idem: Idempotency | None = None) -> Outcome:
    return crm.create(meta, lambda: Campaign.draft(meta, **cmd.model_dump()), idem)


def schedule(crm: Crm, meta: Meta, campaign_id: UUID, cmd: ScheduleCampaign,
             expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    now = datetime.now(timezone.utc)
    return crm.change(Campaign, campaign_id, meta,
                      lambda c: c.schedule(meta, cmd.scheduled_for, now), expected_version, idem)


def launch(crm: Crm, meta: Meta, campaign_id: UUID, cmd: LaunchCampaign,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    def act(campaign: Campaign) -> None:
        for index, customer_id in enumerate(dict.fromkeys(cmd.customer_ids)):
            try:
                crm.load(Customer, customer_id, meta.tenant_id)
            except NotFound:
                raise DomainError(f"no customer {customer_id}", f"customer_ids[{index}]") from None
        campaign.launch(meta, cmd.customer_ids)
    return crm.change(Campaign, campaign_id, meta, act, expected_version, idem)


def complete(crm: Crm, meta: Meta, campaign_id: UUID, cmd: CompleteCampaign,
             expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Campaign, campaign_id, meta, lambda c: c.complete(meta), expected_version, idem)


def cancel(crm: Crm, meta: Meta, campaign_id: UUID, cmd: CancelCampaign,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Campaign, campaign_id, meta, lambda c: c.cancel(meta, cmd.reason),
                      expected_version, idem)
