"""The sales sweep on demand: idle follow-ups, rotting alerts and quote expiry.

Every node with read models also runs it daily for every tenant, as a node job
(workers/sales_sweep.py, workers/node_jobs.py).

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
from api.routes import Route
from workers import sales_policies

router = APIRouter(route_class=Route, prefix="/v1/automation", tags=["automation"])


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
    return sales_policies.run_sweep(ctx.crm, db, ctx.meta, now)
