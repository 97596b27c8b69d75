"""Response models: the API's contract, and what the OpenAPI document shows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

T = TypeVar("T")


class CommandAccepted(BaseModel):
    id: UUID
    version: int
    consistency_token: str


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class CustomerRow(BaseModel):
    id: UUID
    name: str
    email: str | None
    phone: str | None
    source: str | None
    tags: list[str]
    status: str
    created_at: datetime
    updated_at: datetime


class Spend(BaseModel):
    currency: str
    amount: str
    orders: int


class OpenDeal(BaseModel):
    id: UUID
    title: str
    value: str
    currency: str
    stage: str
    expected_close: date | None


class Interaction(BaseModel):
    occurred_at: datetime
    kind: str
    event_type: str
    summary: str


class OpenTask(BaseModel):
    id: UUID
    title: str
    due_at: datetime | None
    priority: str
    assignee: str | None


class CustomFieldValue(BaseModel):
    key: str
    label: str
    type: str
    value: Any


class Preferences(BaseModel):
    preferred_channel: str | None
    frequency: str | None
    topics: list[str]


class Consent(BaseModel):
    channel: str
    status: str
    source: str
    occurred_at: datetime


class LeadState(BaseModel):
    stage: str
    owner: str | None
    lead_since: datetime | None
    qualified_at: datetime | None
    converted_at: datetime | None
    bant: dict[str, Any]
    bant_qualified: bool
    assignment_method: str | None


class ScoreReason(BaseModel):
    rule: str
    points: int
    times: int


class ScoreStep(BaseModel):
    occurred_at: datetime
    rule: str
    points: int
    score: int


class LeadScore(BaseModel):
    score: int
    earned: int
    silence_points: int
    last_activity_at: datetime | None
    reasons: list[ScoreReason]
    history: list[ScoreStep] = []


class Rfm(BaseModel):
    last_order_at: datetime
    recency_days: int
    frequency: int
    monetary: str
    currency: str | None
    r: int
    f: int
    m: int
    rfm: str
    segment: str


class CustomerRfm(Rfm):
    breakpoints_as_of: datetime | None = Field(None, description=(
        "null when the scores are against breakpoints of the tenant's current orders; else "
        "when the breakpoints were computed: a tenant of 20,000 scored customers or more keeps "
        "them for up to 30 s after its orders change"))


class CustomerSegment(BaseModel):
    id: UUID
    name: str
    kind: str
    since: datetime


class Customer360(CustomerRow):
    version: int
    note_count: int
    communication_count: int
    order_count: int
    open_opportunities: int
    won_opportunities: int
    campaigns_received: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    last_interaction_at: datetime | None
    lifetime_spend: str
    currency: str | None
    average_order_value: str | None
    spend_by_currency: list[Spend]
    open_opportunities_list: list[OpenDeal]
    last_interactions: list[Interaction]
    open_tasks: list[OpenTask] = []
    custom_fields: list[CustomFieldValue] = []
    preferences: Preferences | None = None
    consent: list[Consent] = []
    lead: LeadState | None = None
    lead_score: LeadScore | None = None
    rfm: CustomerRfm | None = None
    segments: list[CustomerSegment] = []


class TimelineEntry(BaseModel):
    occurred_at: datetime
    position: int
    kind: str
    event_type: str
    aggregate_id: UUID
    version: int
    actor: str
    summary: str
    data: dict[str, Any]


class OpportunityRow(BaseModel):
    id: UUID
    customer_id: UUID
    title: str
    value: str
    currency: str
    stage: str
    status: str
    owner: str | None
    expected_close: date | None
    lost_reason: str | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class StageTotal(BaseModel):
    stage: str
    currency: str
    count: int
    total: str


class StoredEvent(BaseModel):
    """One event as the event store holds it: the audit trail."""

    type: str
    version: int
    occurred_at: datetime
    actor: str
    tenant_id: str
    correlation_id: str | None
    causation_id: str | None
    data: dict[str, Any]


class CustomerState(BaseModel):
    """A customer as reconstructed from its events at a moment or version."""

    id: UUID
    version: int
    as_of: datetime
    name: str
    email: str | None
    phone: str | None
    source: str | None
    tags: list[str]
    archived: bool
    order_count: int
    note_count: int


class ProjectionStatus(BaseModel):
    projection: str
    node: str = ""
    position: int
    applied_events: int
    lag: int
    lag_source: str = "event store"  # or "kafka": the node's consumer lag
    newest_event_at: datetime | None
    newest_event_age_seconds: float | None = None
    updated_at: datetime | None
    generation: int
    rebuilding: dict[str, Any] | None = None


class TaskRow(BaseModel):
    id: UUID
    title: str
    due_at: datetime | None
    priority: str
    assignee: str | None
    customer_id: UUID | None
    opportunity_id: UUID | None
    status: str
    created_at: datetime
    completed_at: datetime | None
    updated_at: datetime
    overdue: bool = False


class CustomFieldDefinition(BaseModel):
    key: str
    label: str
    type: str
    options: list[str]
    required: bool
    unique: bool
    retired: bool
    defined_at: datetime
    updated_at: datetime


class LeadRow(BaseModel):
    id: UUID
    name: str
    email: str | None
    source: str | None
    stage: str
    owner: str | None
    lead_since: datetime
    bant_qualified: bool
    assigned_at: datetime | None


class ScoreRow(BaseModel):
    id: UUID
    name: str
    email: str | None
    score: int
    last_activity_at: datetime | None


class RfmRow(Rfm):
    id: UUID
    name: str
    email: str | None


class RfmSegment(BaseModel):
    segment: str
    customers: int
    share: float
    monetary: str
    currency: str | None


class SegmentView(BaseModel):
    id: UUID
    name: str
    kind: str
    rule: dict[str, Any] | None
    description: str | None
    size: int
    created_at: datetime
    updated_at: datetime


class SegmentMember(BaseModel):
    id: UUID
    name: str
    email: str | None
    since: datetime


class SegmentSize(BaseModel):
    day: date
    size: int


class SegmentRevenue(BaseModel):
    currency: str
    revenue: str
    orders: int
    average_order_value: str


class SegmentShare(BaseModel):
    segment: str
    customers: int
    share: float


class SegmentAnalytics(BaseModel):
    size: int
    size_over_time: list[SegmentSize]
    revenue: list[SegmentRevenue]
    rfm_share: list[SegmentShare]
    without_orders: int


class SegmentRefreshed(BaseModel):
    changes: int


class ConversionPeriod(BaseModel):
    period_start: date
    leads: int
    qualified: int
    converted: int
    conversion_rate: float | None
    days_to_convert: float | None
    conversions_in_period: int


class LeadSettingsView(BaseModel):
    bant_rule: dict[str, Any]
    routing_rules: list[dict[str, Any]]
    scoring_rules: list[dict[str, Any]]


class TeamView(BaseModel):
    name: str
    members: list[str]
    turns: int


class ImportError_(BaseModel):
    line: int
    field: str
    reason: str


class ImportReport(BaseModel):
    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[ImportError_]
    consistency_token: str | None = None


class DocumentAccepted(CommandAccepted):
    document_id: UUID


class DocumentRow(BaseModel):
    id: UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    attached_at: datetime
    attached_by: str


class ConsentStatus(BaseModel):
    customer_id: UUID
    channel: str
    status: str
    source: str | None
    occurred_at: datetime | None
    allowed: bool
