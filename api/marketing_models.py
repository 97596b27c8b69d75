"""Response models of the campaign, template, tracking and webhook routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class SmsLength(BaseModel):
    encoding: str
    units: int
    segments: int
    per_segment: int


class TemplateRow(BaseModel):
    id: UUID
    name: str
    channel: str
    status: str
    latest_version: int | None
    approved_version: int | None
    created_at: datetime
    updated_at: datetime


class TemplateVersion(BaseModel):
    version: int
    subject: str | None
    html: str | None
    text: str | None
    sms: SmsLength | None
    note: str | None
    status: str
    drafted_at: datetime
    drafted_by: str
    reviewed_at: datetime | None
    reviewed_by: str | None
    review_note: str | None


class TemplateDetail(TemplateRow):
    versions: list[TemplateVersion]


class Preview(BaseModel):
    channel: str
    subject: str | None
    html: str | None
    text: str | None
    sms: SmsLength | None
    characters: int
    variables: dict[str, Any]


class CampaignRow(BaseModel):
    id: UUID
    name: str
    channel: str
    subject: str | None
    status: str
    template_id: UUID | None
    template_version: int | None
    audience_chosen: int | None
    segment_id: UUID | None
    scheduled_for: datetime | None
    launch_error: str | None
    audience_size: int | None
    recipients: int | None
    suppressed: int | None
    per_minute: int | None
    launched_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MessageCounts(BaseModel):
    messages: int
    queued: int
    sending: int
    sent: int
    delivered: int
    bounced: int
    failed: int
    suppressed: int
    opened: int
    clicked: int
    clicks: int
    unsubscribed: int


class CampaignDetail(CampaignRow):
    messages: MessageCounts


class RecipientRow(BaseModel):
    id: UUID
    customer_id: UUID
    channel: str
    step: str
    status: str
    attempts: int
    error: str | None
    to_address: str | None
    provider_id: str | None
    queued_at: datetime
    not_before: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    bounced_at: datetime | None
    failed_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    clicks: int
    unsubscribed_at: datetime | None


class SuppressedRow(BaseModel):
    customer_id: UUID
    reason: str


class WebhookCreated(BaseModel):
    id: UUID
    version: int
    consistency_token: str
    secret: str


class WebhookRow(BaseModel):
    id: UUID
    url: str
    event_types: list[str]
    description: str | None
    status: str
    secret_rotated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookDetail(WebhookRow):
    deliveries: dict[str, int]


class DeliveryAttempt(BaseModel):
    attempt: int
    worker: str | None
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str | None
    status_code: int | None
    error: str | None
    duration_ms: int | None


class DeliveryRow(BaseModel):
    id: UUID
    subscription_id: UUID
    event_id: str
    event_type: str
    position: int
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    dead_at: datetime | None
    dead_reason: str | None
    replayed_at: datetime | None
    replayed_by: str | None
    created_at: datetime
    updated_at: datetime
    attempt_log: list[DeliveryAttempt]


class FunnelStage(BaseModel):
    name: str
    count: int
    rate_from_start: float | None
    rate_from_previous: float | None


class Amount(BaseModel):
    currency: str
    amount: str


class Funnel(BaseModel):
    stages: list[FunnelStage]
    orders: int
    revenue: list[Amount]
    cost: Amount
    roi: float | None


class CampaignAnalytics(Funnel):
    id: UUID
    name: str
    channel: str
    status: str
    window_days: int


class AttributedOrder(BaseModel):
    order_id: str
    customer_id: UUID
    amount: str
    currency: str
    occurred_at: datetime
    message_id: UUID
    campaign_id: UUID | None
    automation_id: UUID | None
    step: str
    touch_at: datetime


class AutomationRow(BaseModel):
    id: UUID
    name: str
    trigger: dict[str, Any]
    steps: list[dict[str, Any]]
    exit: list[Any]
    status: str
    created_at: datetime
    updated_at: datetime


class AutomationDetail(AutomationRow):
    runs: dict[str, int]
    active_runs_by_step: dict[str, int]


class RunRow(BaseModel):
    id: UUID
    automation_id: UUID
    customer_id: UUID
    status: str
    step: int
    steps_total: int
    trigger_event: str | None
    waiting_until: datetime | None
    exit_reason: str | None
    error: str | None
    started_at: datetime
    ended_at: datetime | None
    updated_at: datetime


class RunStep(BaseModel):
    index: int
    kind: str
    outcome: dict[str, Any]
    done_at: datetime


class RunDetail(RunRow):
    steps_done: list[RunStep]


class StepFunnel(Funnel):
    step: str
