"""The Message: one customer's copy of a campaign (or of an automation step), and its fate.

Its id derives from (campaign or automation, customer, step): the idempotency
key of the send. A launch that ran twice, or two workers racing, can only
ever address the same aggregate, and the event store accepts one event per
(aggregate, version), so only one worker can start a given attempt.

The sending protocol is **at most once** per message::

    queued ──start──► sending ──sent──► sent ──► delivered / bounced, opened, clicked, unsubscribed
       ▲                 │ └──failed (retryable, before the provider took it)──► queued again
       └─────────────────┘ └──failed (final) / abandoned (outcome unknown)──► failed

``SendStarted`` is recorded *before* the provider is called, with a lease.
Only a failure that proves the provider did not take the message (refused
connection, a 4xx SMTP reply, HTTP 429/5xx) is retried. A worker that finds a
message still ``sending`` after its lease expired (the sender died between
the call and recording its result) cannot know whether it went out, and marks
it failed with "outcome unknown" instead of sending it again: a customer never
gets the same message twice, at the price of rarely not getting it at all.

Engagement (opened, clicked, unsubscribed) is recorded once each (a click once
per link); a click implies an open, for mail clients that block the pixel.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import CrmAggregate, InvalidTransition, Meta
from domain.values import text

STATUSES = ("queued", "sending", "sent", "delivered", "bounced", "failed", "suppressed")
FINAL = ("bounced", "failed", "suppressed")
SENT = ("sent", "delivered")


def message_id(source_id: UUID, customer_id: UUID, step: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"craved-crm:message:{source_id}:{customer_id}:{step}")


def refusal(customer: Any, channel: str) -> str | None:
    """Why ``customer`` may not receive marketing on ``channel`` now, or None if it may.

    Marketing needs an opt-in on the channel (no record is no consent); an
    opt-out always wins; an archived customer gets nothing; and there must be
    an address (email, or a phone number for SMS and WhatsApp).
    """
    if customer.archived:
        return "archived"
    status = (getattr(customer, "consent", {}).get(channel) or {}).get("status")
    if status == "opted_out":
        return "opted_out"
    if status != "opted_in":
        return "no_consent"
    address = customer.email if channel == "email" else customer.phone
    if not address:
        return "no_address"
    if getattr(customer, "bounced_addresses", {}).get(channel) == address:
        return "address_bounced"
    return None


class Message(CrmAggregate):
    """State: campaign_id, automation_id, step, customer_id, channel, template_id,
    template_version, extra, due_at, status, attempt, lease_until, to, provider_id,
    opened, clicked (urls), unsubscribed."""

    class Queued(CrmAggregate.Created):
        campaign_id: UUID | None
        automation_id: UUID | None
        step: str
        customer_id: UUID
        channel: str
        template_id: UUID | None
        template_version: int | None
        extra: dict                   # further template variables (the order that triggered it)
        not_before: datetime          # throttling: when it may be sent at the earliest

        def apply(self, message: Message) -> None:
            super().apply(message)
            for field in ("campaign_id", "automation_id", "step", "customer_id", "channel",
                          "template_id", "template_version", "extra"):
                setattr(message, field, getattr(self, field))
            message.due_at = self.not_before
            message.status = "queued"
            message.attempt = 0
            message.lease_until = None
            message.to = None
            message.provider_id = None
            message.opened = False
            message.clicked = []
            message.unsubscribed = False

    class SendStarted(CrmAggregate.Event):
        attempt: int
        worker: str
        lease_until: datetime

        def apply(self, message: Message) -> None:
            message.status = "sending"
            message.attempt = self.attempt
            message.lease_until = self.lease_until

    class Sent(CrmAggregate.Event):
        attempt: int
        customer_id: UUID
        campaign_id: UUID | None
        to: str
        provider_id: str | None
        parts: int   # what the provider bills: SMS segments; 1 for an email or WhatsApp message

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["parts"] = 1

        def apply(self, message: Message) -> None:
            message.status = "sent"
            message.to = self.to
            message.provider_id = self.provider_id

    class SendFailed(CrmAggregate.Event):
        attempt: int
        error: str
        retry_at: datetime | None     # None: final

        def apply(self, message: Message) -> None:
            message.status = "queued" if self.retry_at else "failed"
            if self.retry_at:
                message.due_at = self.retry_at

    class Suppressed(CrmAggregate.Event):
        reason: str                   # opted_out, no_consent, archived, no_address

        def apply(self, message: Message) -> None:
            message.status = "suppressed"

    class Delivered(CrmAggregate.Event):
        customer_id: UUID
        campaign_id: UUID | None

        def apply(self, message: Message) -> None:
            message.status = "delivered"

    class Bounced(CrmAggregate.Event):
        customer_id: UUID
        campaign_id: UUID | None
        reason: str

        def apply(self, message: Message) -> None:
            message.status = "bounced"

    class Opened(CrmAggregate.Event):
        customer_id: UUID
        campaign_id: UUID | None

        def apply(self, message: Message) -> None:
            message.opened = True

    class Clicked(CrmAggregate.Event):
        customer_id: UUID
        campaign_id: UUID | None
        url: str

        def apply(self, message: Message) -> None:
            message.clicked.append(self.url)

    class Unsubscribed(CrmAggregate.Event):
        customer_id: UUID
        campaign_id: UUID | None
        channel: str

        def apply(self, message: Message) -> None:
            message.unsubscribed = True

    @classmethod
    def queue(cls, meta: Meta, *, customer_id: UUID, channel: str, step: str,
              not_before: datetime, campaign_id: UUID | None = None,
              automation_id: UUID | None = None, template_id: UUID | None = None,
              template_version: int | None = None, extra: dict | None = None,
              run_id: UUID | None = None) -> Message:
        """``run_id``: an automation's messages are one per run and step, not per automation."""
        source = run_id or campaign_id or automation_id
        assert source is not None, "a message belongs to a campaign or an automation"
        return cls._start(cls.Queued, meta, id=message_id(source, customer_id, step),
                          campaign_id=campaign_id, automation_id=automation_id, step=step,
                          customer_id=customer_id, channel=channel, template_id=template_id,
                          template_version=template_version, extra=extra or {},
                          not_before=not_before)

    # -- sending --------------------------------------------------------------------------

    def start(self, meta: Meta, worker: str, now: datetime, lease: timedelta) -> int:
        """Claims the next attempt (the intent, recorded before the provider is called)."""
        if self.status != "queued":
            raise InvalidTransition(f"cannot start sending a {self.status} message")
        if now < self.due_at:
            raise InvalidTransition(f"the message is not due before {self.due_at.isoformat()}")
        self._record(self.SendStarted, meta, attempt=self.attempt + 1, worker=worker,
                     lease_until=now + lease)
        return self.attempt

    def sent(self, meta: Meta, to: str, provider_id: str | None, parts: int = 1) -> None:
        self._require("sending")
        self._record(self.Sent, meta, attempt=self.attempt, customer_id=self.customer_id,
                     campaign_id=self.campaign_id, to=to, provider_id=provider_id, parts=parts)

    def failed(self, meta: Meta, error: str, retry_at: datetime | None = None) -> None:
        self._require("sending")
        self._record(self.SendFailed, meta, attempt=self.attempt, error=error[:1000],
                     retry_at=retry_at)

    def abandon(self, meta: Meta, now: datetime) -> None:
        """A sender's lease ran out before it recorded a result: the outcome is unknown, and
        the message is not sent again (at most once)."""
        self._require("sending")
        if now < self.lease_until:
            raise InvalidTransition("the sending worker's lease has not expired")
        self._record(self.SendFailed, meta, attempt=self.attempt, retry_at=None,
                     error="outcome unknown: the sending worker stopped before recording a "
                           "result; not sent again")

    def suppress(self, meta: Meta, reason: str) -> None:
        self._require("queued")
        self._record(self.Suppressed, meta, reason=reason)

    # -- what happened after sending --------------------------------------------------------

    def delivered(self, meta: Meta) -> None:
        if self.status == "sent":
            self._record(self.Delivered, meta, customer_id=self.customer_id,
                         campaign_id=self.campaign_id)

    def bounced(self, meta: Meta, reason: str) -> None:
        if self.status in SENT or self.status == "sending":
            self._record(self.Bounced, meta, customer_id=self.customer_id,
                         campaign_id=self.campaign_id, reason=text(reason, "reason", 1000) or "bounced")

    def open(self, meta: Meta) -> bool:
        """Records the first open; later ones change nothing. Returns whether it recorded."""
        if self.opened or not self._was_sent():
            return False
        self._record(self.Opened, meta, customer_id=self.customer_id, campaign_id=self.campaign_id)
        return True

    def click(self, meta: Meta, url: str) -> bool:
        if url in self.clicked or not self._was_sent():
            return False
        self.open(meta)
        self._record(self.Clicked, meta, customer_id=self.customer_id,
                     campaign_id=self.campaign_id, url=url)
        return True

    def unsubscribe(self, meta: Meta, channel: str) -> bool:
        if self.unsubscribed:
            return False
        self._record(self.Unsubscribed, meta, customer_id=self.customer_id,
                     campaign_id=self.campaign_id, channel=channel)
        return True

    def _was_sent(self) -> bool:
        return self.status in SENT or self.provider_id is not None or self.to is not None

    def _require(self, status: str) -> None:
        if self.status != status:
            raise InvalidTransition(f"the message is {self.status}, not {status}")
