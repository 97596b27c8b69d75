"""Response models of the sales routes (pipelines, deals, quotes, contracts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class StageOut(BaseModel):
    id: str
    name: str
    probability: int
    rotting_days: int | None
    kind: str
    archived: bool
    position: int


class PipelineOut(BaseModel):
    id: UUID | None  # null: the tenant's built-in default pipeline (path segment "default")
    name: str
    version: int
    automation: dict[str, Any]
    stages: list[StageOut]


class BoardDeal(BaseModel):
    id: UUID
    version: int
    customer_id: UUID
    title: str
    value: str
    weighted_value: str
    currency: str
    stage: str
    status: str
    probability: int
    owner: str | None
    source: str | None
    expected_close: date | None
    opened_at: datetime
    stage_entered_at: datetime
    last_activity_at: datetime
    closed_at: datetime | None
    idle_days: float
    rotting: bool


class StageTotals(BaseModel):
    currency: str
    count: int
    total: str
    weighted_total: str


class BoardColumn(BaseModel):
    stage: str
    name: str
    kind: str
    probability: int
    rotting_days: int | None
    archived: bool
    count: int
    totals: list[StageTotals]
    deals: list[BoardDeal]
    next_cursor: str | None


class Board(BaseModel):
    pipeline_id: UUID | None
    name: str
    as_of: datetime
    stages: list[BoardColumn]


class LineItemOut(BaseModel):
    product_id: str | None
    name: str
    quantity: str
    unit_price: str
    discount: str
    total: str


class DealOut(BaseModel):
    id: UUID
    version: int
    pipeline_id: UUID | None
    customer_id: UUID
    title: str
    value: str
    currency: str
    stage: str
    status: str
    probability: int
    owner: str | None
    source: str | None
    expected_close: date | None
    opened_at: datetime
    closed_at: datetime | None
    stage_entered_at: datetime
    last_activity_at: datetime
    reason: str | None
    line_items: list[LineItemOut]
    contact_ids: list[UUID]


class HistoryChange(BaseModel):
    version: int
    changed_at: datetime
    change: str
    actor: str
    stage: str | None
    previous_stage: str | None
    amount: str | None
    probability: int | None
    expected_close: date | None
    status: str | None


class StageStay(BaseModel):
    stage: str
    status: str
    entered_at: datetime
    left_at: datetime | None
    days: float | None


class TimeInStage(BaseModel):
    stage: str
    days: float
    visits: int


class StageHistory(BaseModel):
    deal_id: UUID
    as_of: datetime
    changes: list[HistoryChange]
    stages: list[StageStay]
    time_in_stage: list[TimeInStage]


class QuoteOut(BaseModel):
    id: UUID
    version: int
    opportunity_id: UUID
    customer_id: UUID
    number: str
    revision: int
    status: str
    stored_status: str
    currency: str
    subtotal: str
    tax_rate: str
    tax: str
    total: str
    valid_until: date
    terms: str | None
    lines: list[LineItemOut]
    reason: str | None
    created_at: datetime
    sent_at: datetime | None
    decided_at: datetime | None


class ContractOut(BaseModel):
    id: UUID
    version: int
    customer_id: UUID
    opportunity_id: UUID | None
    title: str
    type: str
    status: str
    start_date: date
    end_date: date
    renewal_date: date
    auto_renew: bool
    value: str | None
    currency: str | None
    renewals: int
    reason: str | None
    days_to_renewal: int
    created_at: datetime
    updated_at: datetime


class ReminderRun(BaseModel):
    created: list[UUID]
    already_existed: list[UUID]


# -- analytics ------------------------------------------------------------------------------------

class _Period(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")


class Conversion(BaseModel):
    from_stage: str
    to_stage: str
    reached_from: int
    reached_to: int
    rate: float | None


class StageTime(BaseModel):
    stage: str
    stays: int
    average_days: float | None


class RottingDeal(BaseModel):
    id: UUID
    title: str
    stage: str
    owner: str | None
    customer_id: UUID
    value: str
    currency: str
    last_activity_at: datetime
    rotting_days: int
    idle_days: float


class Analytics(_Period):
    pipeline_id: UUID | None
    currency: str | None
    as_of: datetime
    opened: int
    won: int
    lost: int
    win_rate: float | None
    won_value: str
    average_deal_size: str | None
    average_cycle_days: float | None
    open_deals: int
    open_value: str
    sales_velocity_per_day: str | None
    stage_conversion: list[Conversion]
    time_in_stage: list[StageTime]
    rotting: list[RottingDeal]


class StageProbability(BaseModel):
    stage: str
    name: str
    archived: bool
    default_probability: int
    empirical_probability: float | None
    closed_deals: int
    won_deals: int


class Probabilities(BaseModel):
    pipeline_id: UUID | None
    closed_deals: int
    stages: list[StageProbability]


class ForecastMonth(BaseModel):
    month: str
    open_deals: int
    pipeline: str
    weighted: str
    closed_won: str
    closed_won_deals: int
    worst: str
    commit: str
    best: str
    expected: str
    forecast_at_month_start: str
    forecast_deals_at_month_start: int


class Unscheduled(BaseModel):
    open_deals: int
    pipeline: str
    weighted: str


class Forecast(BaseModel):
    pipeline_id: UUID | None
    currency: str | None
    commit_threshold: int
    months: list[ForecastMonth]
    unscheduled: Unscheduled


class FunnelStep(BaseModel):
    name: str
    event_type: str
    reached: int
    conversion_from_previous: float | None
    conversion_from_start: float | None
    drop_off: int
    median_seconds_from_previous: float | None
    mean_seconds_from_previous: float | None


class FunnelFigures(BaseModel):
    entered: int
    completed: int
    overall_conversion: float | None
    median_seconds_to_convert: float | None
    mean_seconds_to_convert: float | None
    steps: list[FunnelStep]


class FunnelGroup(FunnelFigures):
    value: str


class FunnelResult(FunnelFigures, _Period):
    name: str
    subject: str
    window_seconds: float
    breakdown_property: str | None = None
    breakdown: list[FunnelGroup] | None = None
