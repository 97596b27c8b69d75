"""More opportunity routes: one deal, line items, details, contacts, reopen, stage history, quotes.

The original routes (open, value, stage, win, lose, lists) are in
opportunities.py; these are registered after them, so ``/by-stage`` keeps
its meaning.
"""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

from fastapi import APIRouter, Body

from api.clock import NowDep
from api.deps import CallerDep, CommandDep, ReaderDep
from api.models import CommandAccepted
from api.routes import Route
from api.sales_models import DealOut, QuoteOut, StageHistory
from commands import opportunities as handlers
from commands import quotes as quote_handlers
from commands.errors import NotFound
from readmodels import deals, quotes

command_router = APIRouter(route_class=Route, prefix="/v1/opportunities", tags=["opportunities"])
query_router = APIRouter(route_class=Route, prefix="/v1/opportunities", tags=["opportunities"])


@command_router.put("/{opportunity_id}/line-items", response_model=CommandAccepted)
def set_line_items(opportunity_id: UUID, body: handlers.SetLineItems, ctx: CommandDep):
    """Replaces the line items; the deal's value becomes their sum."""
    return handlers.set_line_items(ctx.crm, ctx.meta, opportunity_id, body, ctx.expected_version,
                                   ctx.idem).as_dict()


@command_router.patch("/{opportunity_id}", response_model=CommandAccepted)
def change_details(opportunity_id: UUID, body: handlers.ChangeDetails, ctx: CommandDep):
    return handlers.change_details(ctx.crm, ctx.meta, opportunity_id, body, ctx.expected_version,
                                   ctx.idem).as_dict()


@command_router.post("/{opportunity_id}/contacts", response_model=CommandAccepted)
def link_contact(opportunity_id: UUID, body: handlers.LinkContact, ctx: CommandDep):
    return handlers.link_contact(ctx.crm, ctx.meta, opportunity_id, body, ctx.expected_version,
                                 ctx.idem).as_dict()


@command_router.delete("/{opportunity_id}/contacts/{contact_id}", response_model=CommandAccepted)
def unlink_contact(opportunity_id: UUID, contact_id: UUID, ctx: CommandDep):
    return handlers.unlink_contact(ctx.crm, ctx.meta, opportunity_id, contact_id,
                                   ctx.expected_version, ctx.idem).as_dict()


@command_router.post("/{opportunity_id}/reopen", response_model=CommandAccepted)
def reopen(opportunity_id: UUID, ctx: CommandDep,
           body: handlers.ReopenOpportunity = Body(default_factory=handlers.ReopenOpportunity)):
    return handlers.reopen(ctx.crm, ctx.meta, opportunity_id, body, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.post("/{opportunity_id}/quotes", status_code=201, response_model=CommandAccepted)
def draft_quote(opportunity_id: UUID, body: quote_handlers.DraftQuote, ctx: CommandDep,
                now: NowDep):
    return quote_handlers.draft(ctx.crm, ctx.meta, opportunity_id, body, now, ctx.idem).as_dict()


@query_router.get("/{opportunity_id}", response_model=DealOut)
def get_deal(opportunity_id: UUID, caller: CallerDep, db: ReaderDep):
    deal = deals.get_deal(db, caller.tenant_id, opportunity_id)
    if deal is None:
        raise NotFound(f"no opportunity {opportunity_id}")
    return deal


@query_router.get("/{opportunity_id}/stage-history", response_model=StageHistory)
def stage_history(opportunity_id: UUID, caller: CallerDep, db: ReaderDep, now: NowDep,
                  as_of: datetime | None = None):
    """Every change of stage, amount, probability, close date or status, and time in each stage."""
    if deals.get_deal(db, caller.tenant_id, opportunity_id) is None:
        raise NotFound(f"no opportunity {opportunity_id}")
    return deals.stage_history(db, caller.tenant_id, opportunity_id,
                               (as_of or now).astimezone(timezone.utc))


@query_router.get("/{opportunity_id}/quotes", response_model=list[QuoteOut])
def deal_quotes(opportunity_id: UUID, caller: CallerDep, db: ReaderDep, now: NowDep):
    return quotes.quotes_of_deal(db, caller.tenant_id, opportunity_id, now)
