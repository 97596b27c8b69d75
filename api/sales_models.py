"""Response models of the sales routes (pipelines, deals, quotes, contracts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


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
