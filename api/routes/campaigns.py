"""Campaign routes: draft, choose template and audience, schedule, launch, complete, cancel."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Body, Request

from api.deps import CommandDep
from api.clock import ClockDep
from api.marketing_deps import MarketingDep
from api.models import CommandAccepted
from api.routes import Route
from commands import campaigns as handlers
from readmodels.campaigns import segment_lookup

router = APIRouter(route_class=Route, prefix="/v1/campaigns", tags=["campaigns"])


@router.post("", status_code=201, response_model=CommandAccepted)
def draft_campaign(body: handlers.DraftCampaign, ctx: CommandDep):
    return handlers.draft(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@router.post("/{campaign_id}/template", response_model=CommandAccepted)
def choose_template(campaign_id: UUID, body: handlers.ChooseTemplate, ctx: CommandDep):
    """Sends an approved version of a template of the campaign's channel."""
    return handlers.choose_template(ctx.crm, ctx.meta, campaign_id, body, ctx.expected_version,
                                    ctx.idem).as_dict()


@router.post("/{campaign_id}/audience", response_model=CommandAccepted)
def choose_audience(campaign_id: UUID, body: handlers.ChooseAudience, ctx: CommandDep):
    """The customers a (scheduled) launch sends to, or a segment whose members at the launch
    are; frozen and filtered by consent at launch."""
    return handlers.choose_audience(ctx.crm, ctx.meta, campaign_id, body, ctx.expected_version,
                                    ctx.idem).as_dict()


@router.post("/{campaign_id}/schedule", response_model=CommandAccepted)
def schedule(campaign_id: UUID, body: handlers.ScheduleCampaign, ctx: CommandDep, clock: ClockDep):
    return handlers.schedule(ctx.crm, ctx.meta, campaign_id, body, ctx.expected_version,
                             ctx.idem, now=clock()).as_dict()


@router.post("/{campaign_id}/launch", response_model=CommandAccepted)
def launch(campaign_id: UUID, body: handlers.LaunchCampaign, ctx: CommandDep,
           marketing: MarketingDep, clock: ClockDep, request: Request):
    """Freezes the audience (the customer ids sent, or the one chosen) in the campaign's
    Launched event, leaves out whoever may not be contacted on the channel (no opt-in, opted
    out, archived, no address), and queues one message per recipient for the senders, spread
    at the channel's rate."""
    rates = {channel: marketing.per_minute(channel) for channel in ("email", "sms", "whatsapp")}
    members = segment_lookup(request.app.state.store)   # a segment audience, on a node with one
    return handlers.launch(ctx.crm, ctx.meta, campaign_id, body, ctx.expected_version,
                           ctx.idem, now=clock(), per_minute=rates,
                           segment_members=members).as_dict()


@router.post("/{campaign_id}/complete", response_model=CommandAccepted)
def complete(campaign_id: UUID, ctx: CommandDep,
             body: handlers.CompleteCampaign = Body(default_factory=handlers.CompleteCampaign)):
    return handlers.complete(ctx.crm, ctx.meta, campaign_id, body, ctx.expected_version,
                             ctx.idem).as_dict()


@router.post("/{campaign_id}/cancel", response_model=CommandAccepted)
def cancel(campaign_id: UUID, ctx: CommandDep,
           body: handlers.CancelCampaign = Body(default_factory=handlers.CancelCampaign)):
    return handlers.cancel(ctx.crm, ctx.meta, campaign_id, body, ctx.expected_version,
                           ctx.idem).as_dict()
