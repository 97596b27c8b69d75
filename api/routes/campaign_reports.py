"""Campaign queries: the list, one campaign with its message counts, its recipients' states,
and who was left out at launch (and why)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import CallerDep, ReaderDep
from api.marketing_models import CampaignDetail, CampaignRow, RecipientRow, SuppressedRow
from api.models import Page
from commands.errors import NotFound
from readmodels import campaigns as queries

query_router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=500)]
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
