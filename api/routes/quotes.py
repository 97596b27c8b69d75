"""Quote routes: revise, send, accept, reject, expire; one quote, and its PDF.

Dates are judged against the app's clock (api/clock.py): a quote past its
valid-until day cannot be accepted, and shows as expired when read.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Response

from api.clock import NowDep
from api.deps import CallerDep, CommandDep, ReaderDep, get_crm
from api.models import CommandAccepted
from api.sales_models import QuoteOut
from commands import quotes as handlers
from commands.application import Crm
from commands.errors import NotFound
from domain.customer import Customer
from domain.opportunity import Opportunity
from domain.quote import Quote
from domain.tenant import Tenant
from readmodels import quotes
from api.rendering.quote_pdf import render_quote
from api.routes import Route

command_router = APIRouter(route_class=Route, prefix="/v1/quotes", tags=["quotes"])
query_router = APIRouter(route_class=Route, prefix="/v1/quotes", tags=["quotes"])
CrmDep = Annotated[Crm, Depends(get_crm)]


@command_router.post("/{quote_id}/revise", response_model=CommandAccepted)
def revise(quote_id: UUID, body: handlers.ReviseQuote, ctx: CommandDep, now: NowDep):
    """A new revision in draft (what is not sent is kept)."""
    return handlers.revise(ctx.crm, ctx.meta, quote_id, body, now, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.post("/{quote_id}/send", response_model=CommandAccepted)
def send(quote_id: UUID, ctx: CommandDep, now: NowDep,
         body: handlers.SendQuote = Body(default_factory=handlers.SendQuote)):
    return handlers.send(ctx.crm, ctx.meta, quote_id, body, now, ctx.expected_version,
                         ctx.idem).as_dict()


@command_router.post("/{quote_id}/accept", response_model=CommandAccepted)
def accept(quote_id: UUID, ctx: CommandDep, now: NowDep,
           body: handlers.AcceptQuote = Body(default_factory=handlers.AcceptQuote)):
    """Accepts a sent, unexpired quote; by default the open deal's value becomes its subtotal."""
    return handlers.accept(ctx.crm, ctx.meta, quote_id, body, now, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.post("/{quote_id}/reject", response_model=CommandAccepted)
def reject(quote_id: UUID, ctx: CommandDep,
           body: handlers.RejectQuote = Body(default_factory=handlers.RejectQuote)):
    return handlers.reject(ctx.crm, ctx.meta, quote_id, body, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.post("/{quote_id}/expire", response_model=CommandAccepted)
def expire(quote_id: UUID, ctx: CommandDep, now: NowDep,
           body: handlers.ExpireQuote = Body(default_factory=handlers.ExpireQuote)):
    """Marks a draft or sent quote expired; refused while it is still valid."""
    return handlers.expire(ctx.crm, ctx.meta, quote_id, body, now, ctx.expected_version,
                           ctx.idem).as_dict()


@query_router.get("/{quote_id}", response_model=QuoteOut)
def get_quote(quote_id: UUID, caller: CallerDep, db: ReaderDep, now: NowDep):
    quote = quotes.get_quote(db, caller.tenant_id, quote_id, now)
    if quote is None:
        raise NotFound(f"no quote {quote_id}")
    return quote


@query_router.get("/{quote_id}/pdf", response_class=Response,
                  responses={200: {"content": {"application/pdf": {}}}})
def quote_pdf(quote_id: UUID, caller: CallerDep, crm: CrmDep):
    """The quote's current revision as a PDF, rendered from the event store (exact, never stale)."""
    quote = crm.load(Quote, quote_id, caller.tenant_id)
    customer = crm.load(Customer, quote.customer_id, caller.tenant_id)
    deal = crm.load(Opportunity, quote.opportunity_id, caller.tenant_id)
    tenant = crm.load(Tenant, UUID(caller.tenant_id), caller.tenant_id)
    pdf = render_quote(
        {"number": quote.number, "revision": quote.revision, "currency": quote.currency,
         "lines": quote.lines, "subtotal": quote.subtotal, "tax_rate": quote.tax_rate,
         "tax": quote.tax, "total": quote.total, "valid_until": quote.valid_until,
         "terms": quote.terms, "status": quote.status},
        vendor=tenant.name, customer={"name": customer.name, "email": customer.email},
        deal_title=deal.title)
    filename = f"{quote.number}-r{quote.revision}.pdf"
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})
