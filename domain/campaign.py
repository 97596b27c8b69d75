"""The Campaign: one message sent to an audience of customers.

Its state machine: draft → scheduled → running → completed, and cancelled from
any state before completion. The audience is frozen at launch (the customer ids
are in the ``Launched`` event) so that "who did this campaign reach" never
changes after the fact.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.values import text, utc

CHANNELS = ("email", "sms", "whatsapp")
MAX_AUDIENCE = 100_000

# Which commands each status allows; anything else is an InvalidTransition.
ALLOWED = {
    "draft": {"schedule", "launch", "cancel"},
    "scheduled": {"schedule", "launch", "cancel"},
    "running": {"complete", "cancel"},
    "completed": set(),
    "cancelled": set(),
}


class Campaign(CrmAggregate):
    """State: name, channel, subject, body, status, scheduled_for, audience_size."""

    class Drafted(CrmAggregate.Created):
        name: str
        channel: str
        subject: str | None
        body: str

        def apply(self, campaign: Campaign) -> None:
            super().apply(campaign)
            campaign.name = self.name
            campaign.channel = self.channel
            campaign.subject = self.subject
            campaign.body = self.body
            campaign.status = "draft"
            campaign.scheduled_for = None
            campaign.audience_size = 0

    class Scheduled(CrmAggregate.Event):
        scheduled_for: datetime

        def apply(self, campaign: Campaign) -> None:
            campaign.status = "scheduled"
            campaign.scheduled_for = self.scheduled_for

    class Launched(CrmAggregate.Event):
        customer_ids: list[UUID]

        def apply(self, campaign: Campaign) -> None:
            campaign.status = "running"
            campaign.audience_size = len(self.customer_ids)

    class Completed(CrmAggregate.Event):
        def apply(self, campaign: Campaign) -> None:
            campaign.status = "completed"

    class Cancelled(CrmAggregate.Event):
        reason: str | None

        def apply(self, campaign: Campaign) -> None:
            campaign.status = "cancelled"

    @classmethod
    def draft(cls, meta: Meta, name: str, channel: str, subject: str | None, body: str) -> Campaign:
        if channel not in CHANNELS:
            raise DomainError(f"channel must be one of {', '.join(CHANNELS)}", "channel")
        subject = text(subject, "subject", 500, required=channel == "email")
        return cls._start(cls.Drafted, meta, name=text(name, "name", 200, required=True),
                          channel=channel, subject=subject,
                          body=text(body, "body", 100_000, required=True))

    def schedule(self, meta: Meta, scheduled_for: datetime, now: datetime) -> None:
        self._allow("schedule")
        when = utc(scheduled_for, "scheduled_for")
        if when <= now:
            raise DomainError("scheduled_for must be in the future", "scheduled_for")
        self._record(self.Scheduled, meta, scheduled_for=when)

    def launch(self, meta: Meta, customer_ids: list[UUID]) -> None:
        self._allow("launch")
        audience = list(dict.fromkeys(customer_ids))  # de-duplicated, order kept
        if not audience:
            raise DomainError("the audience is empty", "customer_ids")
        if len(audience) > MAX_AUDIENCE:
            raise DomainError(f"the audience is larger than {MAX_AUDIENCE}", "customer_ids")
        self._record(self.Launched, meta, customer_ids=audience)

    def complete(self, meta: Meta) -> None:
        self._allow("complete")
        self._record(self.Completed, meta)

    def cancel(self, meta: Meta, reason: str | None = None) -> None:
        self._allow("cancel")
        self._record(self.Cancelled, meta, reason=text(reason, "reason", 1000))

    def _allow(self, command: str) -> None:
        if command not in ALLOWED[self.status]:
            raise InvalidTransition(f"cannot {command} a {self.status} campaign")
