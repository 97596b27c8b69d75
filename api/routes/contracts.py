"""Contract routes: create, activate, renew, cancel; lists, renewals due, renewal reminders."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Query

from api.clock import NowDep
from api.deps import CallerDep, CommandDep, ReaderDep
from api.models import CommandAccepted, Page
from api.routes import Route
from api.sales_models import ContractOut, ReminderRun
from commands import contracts as handlers
from commands.errors import NotFound
from readmodels import contracts
from workers import sales_policies

command_router = APIRouter(route_class=Route, prefix="/v1/contracts", tags=["contracts"])
query_router = APIRouter(route_class=Route, prefix="/v1/contracts", tags=["contracts"])
Within = Annotated[int, Query(ge=0, le=366, description="days ahead, from today")]


@command_router.post("", status_code=201, response_model=CommandAccepted)
def create_contract(body: handlers.CreateContract, ctx: CommandDep):
    return handlers.create(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.post("/{contract_id}/activate", response_model=CommandAccepted)
def activate(contract_id: UUID, ctx: CommandDep,
             body: handlers.ActivateContract = Body(default_factory=handlers.ActivateContract)):
    return handlers.activate(ctx.crm, ctx.meta, contract_id, body, ctx.expected_version,
                             ctx.idem).as_dict()


@command_router.post("/{contract_id}/renew", response_model=CommandAccepted)
def renew(contract_id: UUID, body: handlers.RenewContract, ctx: CommandDep):
    return handlers.renew(ctx.crm, ctx.meta, contract_id, body, ctx.expected_version,
                          ctx.idem).as_dict()


@command_router.post("/{contract_id}/cancel", response_model=CommandAccepted)
def cancel(contract_id: UUID, ctx: CommandDep,
           body: handlers.CancelContract = Body(default_factory=handlers.CancelContract)):
    return handlers.cancel(ctx.crm, ctx.meta, contract_id, body, ctx.expected_version,
                           ctx.idem).as_dict()


@query_router.post("/renewal-reminders", response_model=ReminderRun)
def renewal_reminders(ctx: CommandDep, db: ReaderDep, now: NowDep,
                      within_days: Within = sales_policies.RENEWAL_WINDOW_DAYS):
    """Creates a reminder task for each contract up for renewal within N days (once per renewal
    date: running it again creates nothing new). Every query node also runs this daily for
    every tenant (workers/sales_sweep.py)."""
    return sales_policies.run_renewal_reminders(ctx.crm, db, ctx.meta, now, within_days)


@query_router.get("", response_model=Page[ContractOut])
def list_contracts(caller: CallerDep, db: ReaderDep, now: NowDep,
                   status: Literal["draft", "active", "ended", "cancelled"] | None = None,
                   customer_id: UUID | None = None,
                   cursor: Annotated[str | None, Query(max_length=500)] = None,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """By end date; an active contract past its end date is listed as ``ended``."""
    return contracts.list_contracts(db, caller.tenant_id, now.date(), status=status,
                                    customer_id=customer_id, cursor=cursor, limit=limit)


@query_router.get("/renewals", response_model=list[ContractOut])
def renewals(caller: CallerDep, db: ReaderDep, now: NowDep, within_days: Within = 30):
    """Active contracts whose renewal date falls within the next N days, soonest first."""
    return contracts.up_for_renewal(db, caller.tenant_id, now.date(), within_days)


@query_router.get("/{contract_id}", response_model=ContractOut)
def get_contract(contract_id: UUID, caller: CallerDep, db: ReaderDep, now: NowDep):
    contract = contracts.get_contract(db, caller.tenant_id, contract_id, now.date())
    if contract is None:
        raise NotFound(f"no contract {contract_id}")
    return contract
