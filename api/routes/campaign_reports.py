"""Campaign queries: the list, one campaign with its message counts, its recipients' states,
and who was left out at launch (and why)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CallerDep, ReaderDep
from api.marketing_deps import MarketingDep
from api.marketing_models import (AttributedOrder, CampaignAnalytics, CampaignDetail, CampaignRow,
                                  RecipientRow, SuppressedRow)
from api.models import Page
from commands.errors import NotFound
from readmodels import campaign_analytics as analytics
from readmodels import campaigns as queries
from api.rendering.campaign_chart import funnel_svg
from api.routes import Route

query_router = APIRouter(route_class=Route, prefix="/v1/campaigns", tags=["campaigns"])
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]
Window = Annotated[int | None, Query(ge=0, le=365, description=(
    "days after a click or open (or an SMS's delivery) within which an order counts for the "
    "message; default CRM_ATTRIBUTION_DAYS"))]
RecipientStatus = Literal["queued", "sending", "sent", "delivered", "bounced", "failed",
                          "suppressed", "opened", "clicked", "unsubscribed"]


@query_router.get("", response_model=Page[CampaignRow])
def list_campaigns(caller: CallerDep, db: ReaderDep,
                   status: Literal["draft", "scheduled", "running", "completed", "cancelled"]
                   | None = None, cursor: Cursor = None, limit: Limit = 50):
    return queries.list_campaigns(db, caller.tenant_id, status=status, cursor=cursor, limit=limit)


def _campaign(db, tenant_id: str, campaign_id: UUID) -> dict:
    campaign = queries.get_campaign(db, tenant_id, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


@query_router.get("/{campaign_id}", response_model=CampaignDetail)
def get_campaign(campaign_id: UUID, caller: CallerDep, db: ReaderDep):
    return _campaign(db, caller.tenant_id, campaign_id)


@query_router.get("/{campaign_id}/recipients", response_model=Page[RecipientRow])
def campaign_recipients(campaign_id: UUID, caller: CallerDep, db: ReaderDep,
                        status: RecipientStatus | None = None, cursor: Cursor = None,
                        limit: Limit = 100):
    """Every recipient's message: its state, attempts, and when it was sent, delivered,
    opened, clicked; ``status`` filters (opened / clicked / unsubscribed: ever)."""
    _campaign(db, caller.tenant_id, campaign_id)
    return queries.recipients(db, caller.tenant_id, campaign_id, status=status, cursor=cursor,
                              limit=limit)


@query_router.get("/{campaign_id}/suppressed", response_model=list[SuppressedRow])
def campaign_suppressed(campaign_id: UUID, caller: CallerDep, db: ReaderDep):
    """The audience members left out at launch, each with why (opted_out, no_consent, archived,
    no_address)."""
    _campaign(db, caller.tenant_id, campaign_id)
    return queries.suppressed(db, caller.tenant_id, campaign_id)


def _analytics(db, tenant_id: str, campaign_id: UUID, window: int | None, marketing) -> dict:
    found = analytics.campaign_analytics(
        db, tenant_id, campaign_id, marketing.attribution_days if window is None else window,
        marketing.unit_costs(), marketing.cost_currency)
    if found is None:
        raise NotFound(f"no campaign {campaign_id}")
    return found


@query_router.get("/{campaign_id}/analytics", response_model=CampaignAnalytics)
def campaign_analytics(campaign_id: UUID, caller: CallerDep, db: ReaderDep,
                       marketing: MarketingDep, window_days: Window = None):
    """The funnel audience → sent → delivered → opened → clicked → ordered, the revenue of the
    orders attributed to the campaign (last touch within the window), its cost (messages sent
    times the channel's unit cost) and ROI ((revenue − cost) / cost, in the cost's currency)."""
    return _analytics(db, caller.tenant_id, campaign_id, window_days, marketing)


@query_router.get("/{campaign_id}/funnel.svg", response_class=Response,
                  responses={200: {"content": {"image/svg+xml": {}}}})
def campaign_funnel_chart(campaign_id: UUID, caller: CallerDep, db: ReaderDep,
                          marketing: MarketingDep, window_days: Window = None):
    """The funnel as an SVG image."""
    found = _analytics(db, caller.tenant_id, campaign_id, window_days, marketing)
    revenue = ", ".join(f"{r['currency']} {r['amount']}" for r in found["revenue"]) or "no revenue"
    roi = "" if found["roi"] is None else f", ROI {found['roi'] * 100:.0f}%"
    svg = funnel_svg(f"{found['name']} ({found['channel']})", found["stages"],
                     f"{found['orders']} attributed order(s): {revenue}; cost "
                     f"{found['cost']['currency']} {found['cost']['amount']}{roi}")
    return Response(svg, media_type="image/svg+xml")


@query_router.get("/{campaign_id}/attributed-orders", response_model=list[AttributedOrder])
def attributed_orders(campaign_id: UUID, caller: CallerDep, db: ReaderDep,
                      marketing: MarketingDep, window_days: Window = None):
    """Each order attributed to the campaign, with the message and the moment that touched."""
    _campaign(db, caller.tenant_id, campaign_id)
    rows = analytics.attributed_orders(
        db, caller.tenant_id, marketing.attribution_days if window_days is None else window_days,
        campaign_id=campaign_id)
    return [{**row, "amount": str(row["amount"])} for row in rows]
