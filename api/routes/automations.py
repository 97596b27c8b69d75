"""Automation routes: drip sequences and behavioural triggers (create, change, activate, pause,
archive), their runs per customer, and per-step analytics."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import CallerDep, CommandDep, ReaderDep
from api.marketing_deps import MarketingDep
from api.marketing_models import AutomationDetail, AutomationRow, RunDetail, RunRow, StepFunnel
from api.models import CommandAccepted, Page
from api.routes import Route
from commands import automations as handlers
from commands.errors import NotFound
from readmodels import automations as queries
from readmodels import campaign_analytics as analytics

command_router = APIRouter(route_class=Route, prefix="/v1/automations", tags=["automations"])
query_router = APIRouter(route_class=Route, tags=["automations"])
Cursor = Annotated[str | None, Query(max_length=500)]
Limit = Annotated[int, Query(ge=1, le=200)]
RunStatus = Literal["running", "waiting", "completed", "exited", "failed"]


@command_router.post("", status_code=201, response_model=CommandAccepted)
def create_automation(body: handlers.CreateAutomation, ctx: CommandDep):
    """A draft: a trigger, steps and exit conditions (see the schema's descriptions).
    Activate it to start runs; send steps need approved template versions."""
    return handlers.create(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.put("/{automation_id}", response_model=CommandAccepted)
def change_automation(automation_id: UUID, body: handlers.ChangeAutomation, ctx: CommandDep):
    """Only a draft or paused automation changes; runs under way keep their steps."""
    return handlers.change(ctx.crm, ctx.meta, automation_id, body, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.post("/{automation_id}/activate", response_model=CommandAccepted)
def activate(automation_id: UUID, ctx: CommandDep):
    """Events from now on start runs (a schedule trigger starts its runs at its time)."""
    return handlers.activate(ctx.crm, ctx.meta, automation_id, ctx.expected_version,
                             ctx.idem).as_dict()


@command_router.post("/{automation_id}/pause", response_model=CommandAccepted)
def pause(automation_id: UUID, ctx: CommandDep):
    return handlers.pause(ctx.crm, ctx.meta, automation_id, ctx.expected_version,
                          ctx.idem).as_dict()


@command_router.post("/{automation_id}/archive", response_model=CommandAccepted)
def archive(automation_id: UUID, ctx: CommandDep):
    return handlers.archive(ctx.crm, ctx.meta, automation_id, ctx.expected_version,
                            ctx.idem).as_dict()


@query_router.get("/v1/automations", response_model=list[AutomationRow])
def list_automations(caller: CallerDep, db: ReaderDep):
    return queries.list_automations(db, caller.tenant_id)


@query_router.get("/v1/automations/runs/{run_id}", response_model=RunDetail)
def get_run(run_id: UUID, caller: CallerDep, db: ReaderDep):
    """One customer's way through a sequence: each step done, and where it is now."""
    found = queries.get_run(db, caller.tenant_id, run_id)
    if found is None:
        raise NotFound(f"no automation run {run_id}")
    return found


@query_router.get("/v1/automations/{automation_id}", response_model=AutomationDetail)
def get_automation(automation_id: UUID, caller: CallerDep, db: ReaderDep):
    found = queries.get_automation(db, caller.tenant_id, automation_id)
    if found is None:
        raise NotFound(f"no automation {automation_id}")
    return found


@query_router.get("/v1/automations/{automation_id}/runs", response_model=Page[RunRow])
def automation_runs(automation_id: UUID, caller: CallerDep, db: ReaderDep,
                    status: RunStatus | None = None, customer_id: UUID | None = None,
                    cursor: Cursor = None, limit: Limit = 50):
    get_automation(automation_id, caller, db)
    return queries.runs(db, caller.tenant_id, automation_id=automation_id, customer_id=customer_id,
                        status=status, cursor=cursor, limit=limit)


@query_router.get("/v1/customers/{customer_id}/automation-runs", response_model=Page[RunRow])
def customer_runs(customer_id: UUID, caller: CallerDep, db: ReaderDep, cursor: Cursor = None,
                  limit: Limit = 50):
    """Every sequence the customer is in or went through, and how far."""
    return queries.runs(db, caller.tenant_id, customer_id=customer_id, cursor=cursor, limit=limit)


@query_router.get("/v1/automations/{automation_id}/analytics", response_model=list[StepFunnel])
def automation_analytics(automation_id: UUID, caller: CallerDep, db: ReaderDep,
                         marketing: MarketingDep,
                         window_days: Annotated[int | None, Query(ge=0, le=365)] = None):
    """Per sending step: the funnel sent → delivered → opened → clicked → ordered (audience:
    the runs that reached the step), attributed revenue, cost and ROI."""
    get_automation(automation_id, caller, db)
    return analytics.automation_analytics(
        db, caller.tenant_id, automation_id,
        marketing.attribution_days if window_days is None else window_days,
        marketing.unit_costs(), marketing.cost_currency)
