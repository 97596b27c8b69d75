"""The daily sales sweep: idle follow-ups, rotting alerts and quote expiry, for a scheduler to call.

It reads the node's read models (so it is served by a query node) and issues
commands; running it twice a day creates nothing twice (task ids derive from
the deal's idle period).
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from api.clock import NowDep
from api.deps import CommandDep, ReaderDep
from readmodels import deals, pipelines, quotes
from workers import sales_policies

router = APIRouter(prefix="/v1/automation", tags=["automation"])


class SweepRun(BaseModel):
    created: list[UUID]
    already_existed: list[UUID]
    moved: list[UUID]
    expired_quotes: list[UUID]
    skipped: list[UUID]


@router.post("/sales-sweep", response_model=SweepRun)
def sales_sweep(ctx: CommandDep, db: ReaderDep, now: NowDep):
    """Runs each pipeline's idle and rotting policies over the open deals, and expires quotes
    past their valid-until day."""
    tenant_id = ctx.meta.tenant_id
    by_id = {p["id"]: p for p in pipelines.list_pipelines(db, tenant_id)}
    facts = [sales_policies.DealFacts.from_row(row) for row in deals.open_deals(db, tenant_id)]
    actions = sales_policies.sweep(facts, by_id, now)
    actions += sales_policies.expire_lapsed_quotes(quotes.lapsed_quotes(db, tenant_id, now), now)
    return sales_policies.execute(ctx.crm, ctx.meta, actions, now)
