"""Pipeline routes: pipelines and stages; the board, analytics, probabilities, forecast, funnel.

``{pipeline_id}`` is a pipeline's id, or ``default`` for the tenant's built-in
default pipeline (lead, qualified, proposal, negotiation), which has no
commands of its own.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Query, Response

from api.clock import NowDep
from api.deps import CallerDep, CommandDep, ReaderDep
from api.models import CommandAccepted
from api.sales_models import Analytics, Board, Forecast, FunnelResult, PipelineOut, Probabilities
from commands import pipelines as handlers
from commands.errors import NotFound
from domain.base import DomainError
from readmodels import funnels, sales_analytics
from readmodels import pipelines as boards
from api.rendering.charts import board_svg, funnel_svg
from api.routes import Route

command_router = APIRouter(route_class=Route, prefix="/v1/pipelines", tags=["pipelines"])
query_router = APIRouter(route_class=Route, prefix="/v1/pipelines", tags=["pipelines"])
StageId = Annotated[str, Query(max_length=50)]


def resolve(db, tenant_id: str, raw: str) -> dict[str, Any]:
    """The pipeline named by a path segment (a UUID or ``default``), or 404."""
    if raw == "default":
        return boards.default_pipeline()
    try:
        pipeline_id = UUID(raw)
    except ValueError:
        raise NotFound(f"no pipeline {raw!r} (an id, or 'default')") from None
    pipeline = boards.get_pipeline(db, tenant_id, pipeline_id)
    if pipeline is None:
        raise NotFound(f"no pipeline {pipeline_id}")
    return pipeline


def _period(start: datetime | None, end: datetime | None, now: datetime,
            days: int = 90) -> tuple[datetime, datetime]:
    end = end or now
    start = start or end - timedelta(days=days)
    for name, value in (("from", start), ("to", end)):
        if value.tzinfo is None:
            raise DomainError("times need a timezone offset, e.g. 2026-01-31T00:00:00Z", name)
    if start >= end:
        raise DomainError("from must be before to", "from")
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


# -- commands -----------------------------------------------------------------------------------

@command_router.post("", status_code=201, response_model=CommandAccepted)
def create_pipeline(body: handlers.CreatePipeline, ctx: CommandDep):
    return handlers.create(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.patch("/{pipeline_id}", response_model=CommandAccepted)
def rename_pipeline(pipeline_id: UUID, body: handlers.RenamePipeline, ctx: CommandDep):
    return handlers.rename(ctx.crm, ctx.meta, pipeline_id, body, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.post("/{pipeline_id}/stages", status_code=201, response_model=CommandAccepted)
def add_stage(pipeline_id: UUID, body: handlers.AddStage, ctx: CommandDep):
    return handlers.add_stage(ctx.crm, ctx.meta, pipeline_id, body, ctx.expected_version,
                              ctx.idem).as_dict()


@command_router.patch("/{pipeline_id}/stages/{stage_id}", response_model=CommandAccepted)
def update_stage(pipeline_id: UUID, stage_id: str, body: handlers.UpdateStage, ctx: CommandDep):
    return handlers.update_stage(ctx.crm, ctx.meta, pipeline_id, stage_id, body,
                                 ctx.expected_version, ctx.idem).as_dict()


@command_router.put("/{pipeline_id}/stages/order", response_model=CommandAccepted)
def reorder_stages(pipeline_id: UUID, body: handlers.ReorderStages, ctx: CommandDep):
    """Deals keep their stage: only the board's order (and "reached stage k") changes."""
    return handlers.reorder_stages(ctx.crm, ctx.meta, pipeline_id, body, ctx.expected_version,
                                   ctx.idem).as_dict()


@command_router.post("/{pipeline_id}/stages/{stage_id}/archive", response_model=CommandAccepted)
def archive_stage(pipeline_id: UUID, stage_id: str, ctx: CommandDep,
                  body: handlers.Empty = Body(default_factory=handlers.Empty)):
    """Deals in the stage stay there; no deal can move into it any more."""
    return handlers.archive_stage(ctx.crm, ctx.meta, pipeline_id, stage_id, ctx.expected_version,
                                  ctx.idem).as_dict()


@command_router.post("/{pipeline_id}/stages/{stage_id}/restore", response_model=CommandAccepted)
def restore_stage(pipeline_id: UUID, stage_id: str, ctx: CommandDep,
                  body: handlers.Empty = Body(default_factory=handlers.Empty)):
    return handlers.restore_stage(ctx.crm, ctx.meta, pipeline_id, stage_id, ctx.expected_version,
                                  ctx.idem).as_dict()


@command_router.put("/{pipeline_id}/automation", response_model=CommandAccepted)
def configure_automation(pipeline_id: UUID, body: handlers.ConfigureAutomation, ctx: CommandDep):
    """The sales automation policies of this pipeline (follow-ups, rotting alerts, move rules)."""
    return handlers.configure_automation(ctx.crm, ctx.meta, pipeline_id, body,
                                         ctx.expected_version, ctx.idem).as_dict()


# -- queries ------------------------------------------------------------------------------------

@query_router.get("", response_model=list[PipelineOut])
def list_pipelines(caller: CallerDep, db: ReaderDep):
    return boards.list_pipelines(db, caller.tenant_id)


@query_router.get("/{pipeline_id}", response_model=PipelineOut)
def get_pipeline(pipeline_id: str, caller: CallerDep, db: ReaderDep):
    return resolve(db, caller.tenant_id, pipeline_id)


@query_router.get("/{pipeline_id}/board", response_model=Board)
def pipeline_board(pipeline_id: str, caller: CallerDep, db: ReaderDep, now: NowDep,
                   stage: Annotated[str | None, Query(max_length=50,
                                                      description="One column, to page it")] = None,
                   cursor: Annotated[str | None, Query(max_length=500)] = None,
                   limit: Annotated[int, Query(ge=1, le=200)] = 20):
    pipeline = resolve(db, caller.tenant_id, pipeline_id)
    if cursor and not stage:
        raise DomainError("a cursor pages one column: send stage too", "stage")
    if stage and stage not in {s["id"] for s in pipeline["stages"]}:
        raise DomainError(f"pipeline {pipeline['name']!r} has no stage {stage!r}", "stage")
    return boards.board(db, caller.tenant_id, pipeline, now, stage, cursor, limit)


@query_router.get("/{pipeline_id}/board.svg", response_class=Response,
                  responses={200: {"content": {"image/svg+xml": {}}}})
def pipeline_board_chart(pipeline_id: str, caller: CallerDep, db: ReaderDep, now: NowDep):
    """The board as a bar chart: open value per stage, with counts and weighted totals."""
    pipeline = resolve(db, caller.tenant_id, pipeline_id)
    svg = board_svg(boards.board(db, caller.tenant_id, pipeline, now, limit=1))
    return Response(svg, media_type="image/svg+xml")


@query_router.get("/{pipeline_id}/analytics", response_model=Analytics)
def pipeline_analytics(pipeline_id: str, caller: CallerDep, db: ReaderDep, now: NowDep,
                       start: Annotated[datetime | None, Query(alias="from")] = None,
                       end: Annotated[datetime | None, Query(alias="to")] = None,
                       as_of: datetime | None = None,
                       currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None):
    """Conversion, win rate, deal size, cycle length, time in stage, velocity, rotting deals
    (default period: the 90 days to now; currency: the pipeline's most used)."""
    pipeline = resolve(db, caller.tenant_id, pipeline_id)
    start, end = _period(start, end, now)
    as_of = (as_of or now).astimezone(timezone.utc)
    currency = (currency.upper() if currency
                else sales_analytics.main_currency(db, caller.tenant_id, pipeline["id"]))
    return sales_analytics.analytics(db, caller.tenant_id, pipeline, start, end, as_of, currency)


@query_router.get("/{pipeline_id}/probabilities", response_model=Probabilities)
def stage_probabilities(pipeline_id: str, caller: CallerDep, db: ReaderDep,
                        start: Annotated[datetime | None, Query(alias="from")] = None,
                        end: Annotated[datetime | None, Query(alias="to")] = None):
    """Each stage's default probability beside the empirical one from the tenant's closed deals."""
    pipeline = resolve(db, caller.tenant_id, pipeline_id)
    if (start is None) != (end is None):
        raise DomainError("send both from and to, or neither (all closed deals)", "from")
    if start and end:
        start, end = _period(start, end, end)
    return sales_analytics.probabilities(db, caller.tenant_id, pipeline, start, end)


@query_router.get("/{pipeline_id}/forecast", response_model=Forecast)
def pipeline_forecast(pipeline_id: str, caller: CallerDep, db: ReaderDep, now: NowDep,
                      start: Annotated[date | None, Query(alias="from",
                                                         description="A day in the first month")] = None,
                      months: Annotated[int, Query(ge=1, le=24)] = 6,
                      commit_threshold: Annotated[int, Query(ge=0, le=100)] = 70,
                      currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None):
    """Per expected-close month: pipeline, weighted, closed won, worst / commit / best, and the
    weighted forecast as it stood at the month's start (forecast against actual)."""
    pipeline = resolve(db, caller.tenant_id, pipeline_id)
    first = (start or now.date()).replace(day=1)
    currency = (currency.upper() if currency
                else sales_analytics.main_currency(db, caller.tenant_id, pipeline["id"]))
    return sales_analytics.forecast(db, caller.tenant_id, pipeline, first, months, commit_threshold,
                                    currency)


def _stage_funnel(pipeline_id: str, caller, db, now, start, end, window_days, breakdown):
    pipeline = resolve(db, caller.tenant_id, pipeline_id)
    start, end = _period(start, end, now, days=365)
    funnel = funnels.stage_funnel(pipeline, timedelta(days=window_days), breakdown)
    try:
        return funnels.run(db, caller.tenant_id, funnel, start, end)
    except funnels.FunnelError as error:
        raise DomainError(error.message, error.field) from None


@query_router.get("/{pipeline_id}/funnel", response_model=FunnelResult)
def pipeline_funnel(pipeline_id: str, caller: CallerDep, db: ReaderDep, now: NowDep,
                    start: Annotated[datetime | None, Query(alias="from")] = None,
                    end: Annotated[datetime | None, Query(alias="to")] = None,
                    window_days: Annotated[int, Query(ge=1, le=3650)] = 180,
                    breakdown: Annotated[str | None, Query(max_length=63)] = None):
    """The stage funnel: deals entering each active open stage in order, then won."""
    return _stage_funnel(pipeline_id, caller, db, now, start, end, window_days, breakdown)


@query_router.get("/{pipeline_id}/funnel.svg", response_class=Response,
                  responses={200: {"content": {"image/svg+xml": {}}}})
def pipeline_funnel_chart(pipeline_id: str, caller: CallerDep, db: ReaderDep, now: NowDep,
                          start: Annotated[datetime | None, Query(alias="from")] = None,
                          end: Annotated[datetime | None, Query(alias="to")] = None,
                          window_days: Annotated[int, Query(ge=1, le=3650)] = 180):
    result = _stage_funnel(pipeline_id, caller, db, now, start, end, window_days, None)
    return Response(funnel_svg(result), media_type="image/svg+xml")
