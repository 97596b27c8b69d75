"""What customers and providers tell us about a sent Message: opens, clicks, unsubscribes,
delivery reports. Each is recorded once (see :class:`domain.message.Message`).

These commands come from tracking links and provider callbacks, not from an
API key: the tenant is the message's own, and the actor says where it came from.
An unsubscribe records the customer's opt-out on the message's channel in the
same transaction as the message's ``Unsubscribed``: from that moment every
sender sees the opt-out and suppresses anything still queued for the customer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from commands.application import Crm
from commands.errors import Conflict, NotFound
from domain.base import Meta
from domain.customer import Customer
from domain.message import Message

ATTEMPTS = 3  # a concurrent change of the same message (two clicks at once): reload and retry


def _message(crm: Crm, message_id: UUID) -> Message:
    try:
        message = crm.repository.get(message_id)
    except AggregateNotFoundError:
        raise NotFound(f"no message {message_id}") from None
    if not isinstance(message, Message):
        raise NotFound(f"no message {message_id}")
    return message


def _on_message(crm: Crm, message_id: UUID, actor: str,
                act: Callable[[Message, Meta], object]) -> Message:
    for attempt in range(ATTEMPTS):
        message = _message(crm, message_id)
        meta = Meta(tenant_id=message.tenant_id, actor=actor)
        try:
            crm.change(Message, message_id, meta, lambda m: act(m, meta), message.version)
            return message
        except Conflict:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def record_open(crm: Crm, message_id: UUID) -> None:
    _on_message(crm, message_id, "customer (tracking pixel)", lambda m, meta: m.open(meta))


def record_click(crm: Crm, message_id: UUID, url: str) -> None:
    _on_message(crm, message_id, "customer (tracked link)", lambda m, meta: m.click(meta, url))


def unsubscribe(crm: Crm, message_id: UUID, now: datetime, how: str) -> Message:
    """Opts the customer out of the message's channel, at once."""
    for attempt in range(ATTEMPTS):
        message = _message(crm, message_id)
        meta = Meta(tenant_id=message.tenant_id, actor=f"customer ({how})")
        source = f"{how}, message {message_id}"
        changed: list = [message]

        def act(customer: Customer) -> None:
            latest = customer.consent.get(message.channel) or {}
            if latest.get("status") != "opted_out":
                # The newest word on the channel, whatever clocks say: never recorded as stale.
                moment = max(now, latest["occurred_at"]) if latest else now
                customer.record_consent(meta, message.channel, "opted_out", source, moment,
                                        max(now, moment))
            message.unsubscribe(meta, message.channel)
        try:
            crm.change(Customer, message.customer_id, meta, act, also=changed)
            return message
        except Conflict:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


# Twilio's MessageStatus values -> what they mean for the message
PROVIDER_STATUSES = {"delivered": "delivered", "undelivered": "bounced", "failed": "bounced",
                     "read": "opened"}


def provider_status(crm: Crm, message_id: UUID, status: str, error_code: str | None) -> str | None:
    """Records a delivery report; returns what it meant (None: a status we do not record)."""
    meaning = PROVIDER_STATUSES.get(status)
    if meaning is None:
        return None

    def act(message: Message, meta: Meta) -> None:
        if meaning == "delivered":
            message.delivered(meta)
        elif meaning == "bounced":
            message.bounced(meta, f"provider: {status}" + (f" (error {error_code})" if error_code else ""))
        else:
            message.delivered(meta)
            message.open(meta)
    _on_message(crm, message_id, "provider (status callback)", act)
    return meaning
