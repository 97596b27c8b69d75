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
