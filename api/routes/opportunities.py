"""Opportunity routes: open, value, stage, win, lose; lists by stage."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Query

from api.deps import CallerDep, CommandDep, ReaderDep
from api.models import CommandAccepted, OpportunityRow, Page, StageTotal
from api.routes import Route
from commands import opportunities as handlers
from readmodels import opportunities as deals

# Command and query routes are separate routers: in server mode they run in different processes.
command_router = APIRouter(route_class=Route, prefix="/v1/opportunities", tags=["opportunities"])
query_router = APIRouter(route_class=Route, prefix="/v1/opportunities", tags=["opportunities"])


@command_router.post("", status_code=201, response_model=CommandAccepted)
def open_opportunity(body: handlers.OpenOpportunity, ctx: CommandDep):
    return handlers.open_opportunity(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.post("/{opportunity_id}/value", response_model=CommandAccepted)
def change_value(opportunity_id: UUID, body: handlers.ChangeValue, ctx: CommandDep):
    return handlers.change_value(ctx.crm, ctx.meta, opportunity_id, body, ctx.expected_version,
                                 ctx.idem).as_dict()


@command_router.post("/{opportunity_id}/stage", response_model=CommandAccepted)
def move_stage(opportunity_id: UUID, body: handlers.MoveStage, ctx: CommandDep):
    return handlers.move_stage(ctx.crm, ctx.meta, opportunity_id, body, ctx.expected_version,
                               ctx.idem).as_dict()


@command_router.post("/{opportunity_id}/win", response_model=CommandAccepted)
def win(opportunity_id: UUID, ctx: CommandDep,
        body: handlers.WinOpportunity = Body(default_factory=handlers.WinOpportunity)):
    return handlers.win(ctx.crm, ctx.meta, opportunity_id, body, ctx.expected_version,
                        ctx.idem).as_dict()


@command_router.post("/{opportunity_id}/lose", response_model=CommandAccepted)
def lose(opportunity_id: UUID, body: handlers.LoseOpportunity, ctx: CommandDep):
    return handlers.lose(ctx.crm, ctx.meta, opportunity_id, body, ctx.expected_version,
                         ctx.idem).as_dict()


@query_router.get("", response_model=Page[OpportunityRow])
def list_opportunities(caller: CallerDep, db: ReaderDep,
                       stage: Annotated[str | None, Query(max_length=100)] = None,
                       status: Literal["open", "won", "lost"] | None = None,
                       customer_id: UUID | None = None,
                       cursor: Annotated[str | None, Query(max_length=500)] = None,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50):
    return deals.list_opportunities(db, caller.tenant_id, stage=stage, status=status,
                                    customer_id=customer_id, cursor=cursor, limit=limit)


@query_router.get("/by-stage", response_model=list[StageTotal])
def totals_by_stage(caller: CallerDep, db: ReaderDep):
    """Open deals per stage: how many, and their total value in each currency."""
    return deals.stage_totals(db, caller.tenant_id)
