"""Campaign commands: draft, choose a template and an audience, schedule, launch, complete,
cancel. A launch filters the audience by consent and queues one Message per recipient."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Literal
from uuid import UUID

from pydantic import Field, model_validator

from commands import templates
from commands.application import Crm, Idempotency, Outcome
from commands.base import Command
from commands.errors import Conflict, NotFound
from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.campaign import MAX_AUDIENCE, Campaign
from domain.customer import Customer
from domain.message import Message, refusal
from domain.pacer import ChannelPacer, pacer_id
from domain.segment import Segment
from domain.template import Template

# Messages per minute when neither the launch nor the settings say (see MarketingSettings).
DEFAULT_PER_MINUTE = {"email": 600, "sms": 60, "whatsapp": 60}


class DraftCampaign(Command):
    name: str = Field(max_length=200)
    channel: Literal["email", "sms", "whatsapp"]
    subject: str | None = Field(default=None, max_length=500)
    body: str | None = Field(default=None, max_length=100_000,
                             description="required unless a template is chosen")
    template_id: UUID | None = Field(default=None, description="an approved template to send")
    template_version: int | None = Field(default=None, ge=1,
                                         description="default: the template's latest approved")
    customer_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=MAX_AUDIENCE,
                                            description="the audience, if already known")
    segment_id: UUID | None = Field(default=None, description="or a segment: its members at "
                                                              "the launch")


class ChooseTemplate(Command):
    template_id: UUID
    version: int | None = Field(default=None, ge=1,
                                description="default: the template's latest approved version")


class ChooseAudience(Command):
    customer_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=MAX_AUDIENCE)
    segment_id: UUID | None = Field(default=None, description="instead of customer_ids: the "
                                                              "segment's members at the launch")

    @model_validator(mode="after")
    def one_of(self) -> ChooseAudience:
        if (self.customer_ids is None) == (self.segment_id is None):
            raise ValueError("send customer_ids or segment_id (one of them)")
        return self


# (tenant id, segment id) -> the segment's members now, from the read models
SegmentMembers = Callable[[str, UUID], list[UUID]]


class ScheduleCampaign(Command):
    scheduled_for: datetime


class LaunchCampaign(Command):
    customer_ids: list[UUID] | None = Field(
        default=None, min_length=1, max_length=MAX_AUDIENCE,
        description="the audience; default: the one chosen with the campaign")
    per_minute: int | None = Field(default=None, ge=1, le=100_000,
                                   description="throttle; default: the channel's setting")


class CompleteCampaign(Command):
    pass


class CancelCampaign(Command):
    reason: str | None = Field(default=None, max_length=1000)


def draft(crm: Crm, meta: Meta, cmd: DraftCampaign, idem: Idempotency | None = None) -> Outcome:
    def make() -> Campaign:
        template = crm.load(Template, cmd.template_id, meta.tenant_id) if cmd.template_id else None
        campaign = Campaign.draft(meta, cmd.name, cmd.channel, cmd.subject, cmd.body, template,
                                  cmd.template_version, sample=templates.sample(crm, meta.tenant_id))
        if cmd.customer_ids:
            _existing(crm, meta, cmd.customer_ids)
            campaign.choose_audience(meta, cmd.customer_ids)
        elif cmd.segment_id:
            _choose_segment(crm, meta, campaign, cmd.segment_id)
        return campaign
    return crm.create(meta, make, idem)


def choose_template(crm: Crm, meta: Meta, campaign_id: UUID, cmd: ChooseTemplate,
                    expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    template = crm.load(Template, cmd.template_id, meta.tenant_id)
    return crm.change(Campaign, campaign_id, meta,
                      lambda c: c.use_template(meta, template, cmd.version), expected_version, idem)


def choose_audience(crm: Crm, meta: Meta, campaign_id: UUID, cmd: ChooseAudience,
                    expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    def act(campaign: Campaign) -> None:
        if cmd.segment_id:
            _choose_segment(crm, meta, campaign, cmd.segment_id)
        else:
            _existing(crm, meta, cmd.customer_ids)
            campaign.choose_audience(meta, cmd.customer_ids)
    return crm.change(Campaign, campaign_id, meta, act, expected_version, idem)


def _choose_segment(crm: Crm, meta: Meta, campaign: Campaign, segment_id: UUID) -> None:
    try:
        segment = crm.load(Segment, segment_id, meta.tenant_id)
    except NotFound:
        raise DomainError(f"no segment {segment_id}", "segment_id") from None
    campaign.choose_segment(meta, segment.id, segment.deleted)


def _existing(crm: Crm, meta: Meta, customer_ids: list[UUID]) -> list[Customer]:
    """The customers, in order, each of the caller's tenant; else a DomainError naming the id."""
    return crm.load_each(Customer, customer_ids, meta.tenant_id, "customer_ids")


def schedule(crm: Crm, meta: Meta, campaign_id: UUID, cmd: ScheduleCampaign,
             expected_version: int | None = None, idem: Idempotency | None = None, *,
             now: datetime | None = None) -> Outcome:
    now = now or datetime.now(timezone.utc)
    return crm.change(Campaign, campaign_id, meta,
                      lambda c: c.schedule(meta, cmd.scheduled_for, now), expected_version, idem)


def launch(crm: Crm, meta: Meta, campaign_id: UUID, cmd: LaunchCampaign,
           expected_version: int | None = None, idem: Idempotency | None = None, *,
           now: datetime | None = None, per_minute: dict[str, int] | None = None,
           segment_members: SegmentMembers | None = None) -> Outcome:
    """Freezes the audience, filters it by consent for the channel, and queues one Message per
    recipient, the n-th not before ``start + n / rate``, where ``start`` is when the tenant's
    channel is next free (see domain/pacer.py): all in one transaction."""
    now = now or datetime.now(timezone.utc)
    messages: list[CrmAggregate] = []

    def act(campaign: Campaign) -> None:
        audience = cmd.customer_ids or campaign.audience
        if not audience and campaign.segment_id and not cmd.customer_ids:
            if segment_members is None:
                raise DomainError("a segment's members are read from the read models: launch it "
                                  "on a node that has them (the embedded mode or a query node)",
                                  "segment_id")
            audience = segment_members(meta.tenant_id, campaign.segment_id)
            if not audience:
                raise DomainError("the segment has no members", "segment_id")
        if not audience:
            raise DomainError("the campaign has no audience: send customer_ids, or choose an "
                              "audience before launching", "customer_ids")
        customers = _existing(crm, meta, audience)
        if campaign.template_id:  # still usable (not archived since it was chosen)?
            crm.load(Template, campaign.template_id, meta.tenant_id).usable(
                campaign.template_version, "template_id")
        campaign.launch(meta, audience)
        suppressed = {str(c.id): reason for c in customers if (reason := refusal(c, campaign.channel))}
        rate = cmd.per_minute or (per_minute or DEFAULT_PER_MINUTE)[campaign.channel]
        recipients = [c.id for c in customers if str(c.id) not in suppressed]
        pacer = _pacer(crm, meta, campaign.channel)
        start = pacer.reserve(meta, campaign.id, len(recipients), rate, now)
        campaign.dispatch(meta, suppressed, rate, start)
        messages.append(pacer)
        messages.extend(Message.queue(
            meta, customer_id=customer_id, channel=campaign.channel, step="campaign",
            not_before=start + timedelta(seconds=index * 60 / rate), campaign_id=campaign.id,
            template_id=campaign.template_id, template_version=campaign.template_version)
            for index, customer_id in enumerate(recipients))
    return crm.change(Campaign, campaign_id, meta, act, expected_version, idem, also=messages)


def _pacer(crm: Crm, meta: Meta, channel: str) -> ChannelPacer:
    try:
        return crm.load(ChannelPacer, pacer_id(meta.tenant_id, channel), meta.tenant_id)
    except NotFound:
        return ChannelPacer.open(meta, channel)


def launch_scheduled(crm: Crm, meta: Meta, campaign_id: UUID, now: datetime,
                     per_minute: dict[str, int] | None = None,
                     segment_members: SegmentMembers | None = None) -> str:
    """The scheduler's launch of a campaign whose time came. Returns what happened:
    ``launched``, ``failed: <reason>`` (recorded on the campaign, which returns to draft), or
    ``skipped`` (no longer scheduled: launched, cancelled or moved by someone else)."""
    for _ in range(5):
        campaign = crm.load(Campaign, campaign_id, meta.tenant_id)
        if campaign.status != "scheduled" or campaign.scheduled_for is None \
                or campaign.scheduled_for > now:
            return "skipped"  # launched, cancelled or moved by someone else
        try:
            launch(crm, meta, campaign_id, LaunchCampaign(), campaign.version, now=now,
                   per_minute=per_minute, segment_members=segment_members)
            return "launched"
        except Conflict:  # the campaign, or the channel's pacer, changed: look again
            continue
        except InvalidTransition:
            return "skipped"
        except DomainError as error:
            reason = f"{error.field}: {error.message}" if error.field else error.message
            crm.change(Campaign, campaign_id, meta, lambda c: c.fail_launch(meta, reason),
                       campaign.version)
            return f"failed: {reason}"
    raise Conflict("the launch kept conflicting with other changes; the next round retries")


def complete(crm: Crm, meta: Meta, campaign_id: UUID, cmd: CompleteCampaign,
             expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Campaign, campaign_id, meta, lambda c: c.complete(meta), expected_version, idem)


def cancel(crm: Crm, meta: Meta, campaign_id: UUID, cmd: CancelCampaign,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Campaign, campaign_id, meta, lambda c: c.cancel(meta, cmd.reason),
                      expected_version, idem)
