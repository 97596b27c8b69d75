"""Preference and consent commands on a customer."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal
from uuid import UUID

from pydantic import Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command
from domain.base import Meta
from domain.customer import CONSENT_CHANNELS, FREQUENCIES, Customer

ConsentChannel = Literal[CONSENT_CHANNELS]  # type: ignore[valid-type]


class ChangePreferences(Command):
    preferred_channel: ConsentChannel | None = None
    frequency: Literal[FREQUENCIES] | None = None  # type: ignore[valid-type]
    topics: list[str] | None = Field(default=None, max_length=20)


class RecordConsent(Command):
    channel: ConsentChannel
    status: Literal["opted_in", "opted_out"]
    source: str = Field(max_length=200, description="where the customer said so, e.g. "
                                                    "\"checkout form\", \"unsubscribe link\"")
    occurred_at: datetime | None = Field(default=None, description="when they said so (default: now)")


def change_preferences(crm: Crm, meta: Meta, customer_id: UUID, cmd: ChangePreferences,
                       expected_version: int | None = None,
                       idem: Idempotency | None = None) -> Outcome:
    changes = cmd.model_dump(exclude_unset=True)
    return crm.change(Customer, customer_id, meta, lambda c: c.change_preferences(meta, **changes),
                      expected_version, idem)


def record_consent(crm: Crm, meta: Meta, customer_id: UUID, cmd: RecordConsent,
                   expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    now = datetime.now(timezone.utc)
    return crm.change(Customer, customer_id, meta,
                      lambda c: c.record_consent(meta, cmd.channel, cmd.status, cmd.source,
                                                 cmd.occurred_at, now),
                      expected_version, idem)
