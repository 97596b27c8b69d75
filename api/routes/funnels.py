"""Funnel routes: the lead funnel, and any funnel over the event stream (POST a definition)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.clock import NowDep
from api.deps import CallerDep, ReaderDep
from api.routes.pipelines import _period
from api.sales_models import FunnelResult
from domain.base import DomainError
from readmodels import funnels
from api.rendering.charts import funnel_svg
from api.routes import Route

router = APIRouter(route_class=Route, prefix="/v1/funnels", tags=["funnels"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilterIn(_Strict):
    property: str = Field(max_length=63)
    op: Literal["eq", "neq", "in", "contains", "gt", "gte", "lt", "lte"] = "eq"
    value: Any = None


class StepIn(_Strict):
    name: str = Field(max_length=100)
    event_type: str = Field(max_length=100, examples=["Opportunity.StageEntered"])
    filters: list[FilterIn] = Field(default_factory=list, max_length=10)


class FunnelQuery(_Strict):
    steps: list[StepIn] = Field(min_length=2, max_length=20)
    subject: Literal["customer", "aggregate"] = "customer"
    window_days: int = Field(default=30, ge=1, le=3650)
    breakdown: str | None = Field(default=None, max_length=63,
                                  description="A property of the first step's event")
    start: datetime | None = Field(default=None, alias="from")
    end: datetime | None = Field(default=None, alias="to")


def _run(db, tenant_id: str, funnel: funnels.Funnel, start: datetime, end: datetime) -> dict:
    try:
        return funnels.run(db, tenant_id, funnel, start, end)
    except funnels.FunnelError as error:
        raise DomainError(error.message, error.field) from None


@router.get("/leads", response_model=FunnelResult)
def lead_funnel(caller: CallerDep, db: ReaderDep, now: NowDep,
                start: Annotated[datetime | None, Query(alias="from")] = None,
                end: Annotated[datetime | None, Query(alias="to")] = None,
                window_days: Annotated[int, Query(ge=1, le=3650)] = 90,
                breakdown: Annotated[str | None, Query(max_length=63)] = None):
    """lead (registered) -> qualified -> opportunity (proposal or negotiation) -> won, per customer.
    Breakdown by a property of the registration, e.g. ``source``."""
    start, end = _period(start, end, now, days=365)
    return _run(db, caller.tenant_id, funnels.lead_funnel(timedelta(days=window_days), breakdown),
                start, end)


@router.get("/leads.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
def lead_funnel_chart(caller: CallerDep, db: ReaderDep, now: NowDep,
                      start: Annotated[datetime | None, Query(alias="from")] = None,
                      end: Annotated[datetime | None, Query(alias="to")] = None,
                      window_days: Annotated[int, Query(ge=1, le=3650)] = 90):
    start, end = _period(start, end, now, days=365)
    result = _run(db, caller.tenant_id, funnels.lead_funnel(timedelta(days=window_days)), start, end)
    return Response(funnel_svg(result), media_type="image/svg+xml")


@router.post("/query", response_model=FunnelResult)
def query_funnel(body: FunnelQuery, caller: CallerDep, db: ReaderDep, now: NowDep):
    """Any funnel: ordered steps (event type + property filters) within a conversion window."""
    start, end = _period(body.start, body.end, now, days=365)
    funnel = funnels.Funnel(
        steps=tuple(funnels.Step(s.name, s.event_type,
                                 tuple(funnels.Filter(f.property, f.op, f.value) for f in s.filters))
                    for s in body.steps),
        window=timedelta(days=body.window_days), subject=body.subject, breakdown=body.breakdown)
    return _run(db, caller.tenant_id, funnel, start, end)
