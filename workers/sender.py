"""The sender: sends queued Messages when they are due, as a competing consumer.

For each due message it reloads the message and its customer from the event
store and checks consent *now* (an opt-out recorded after the launch wins:
the message is suppressed, never sent), renders it, records ``SendStarted``
(the claim; losing the race to another worker means that worker sends it),
calls the channel, and records the result. See :mod:`domain.message` for the
at-most-once protocol and :mod:`workers.log_worker` for how workers share the
work.

Run it with ``crm worker sender``; run several for throughput and failover.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import IntegrityError, RecordConflictError

from commands.application import Crm
from commands.customers import address_bounced
from commands.marketing_settings import MarketingSettings
from commands.outgoing import compose
from domain.base import CrmAggregate, Meta
from domain.message import Message, refusal
from domain.rendering import TemplateError
from domain.sms import segments
from projections.envelope import Envelope
from workers.channels import OutcomeUnknown, Refused
from workers.checkpoints import share_key
from workers.log_worker import DueTimes

log = logging.getLogger("crm.sender")

RETRY_FIRST = 60.0        # seconds before the first retry of a refused send; doubling
RETRY_CAP = 3600.0


def save(crm: Crm, *aggregates: CrmAggregate) -> bool:
    """Saves; False if another worker changed one of the aggregates first (the claim was lost)."""
    try:
        crm.save(*aggregates)
    except (IntegrityError, RecordConflictError):
        return False
    crm.notify_saved()
    return True


def billed_parts(outgoing) -> int:
    """SMS providers bill per segment of a concatenated text; other channels per message."""
    return max(1, segments(outgoing.text)["segments"]) if outgoing.channel == "sms" else 1


def backoff(attempt: int, first: float, cap: float, rng: random.Random) -> timedelta:
    """Exponential backoff with "equal jitter": half fixed, half random, so retries spread."""
    ceiling = min(cap, first * 2 ** (attempt - 1))
    return timedelta(seconds=ceiling / 2 + rng.uniform(0, ceiling / 2))


class Sender:
    name = "sender"

    def __init__(self, crm: Crm, settings: MarketingSettings, secret: bytes,
                 channels: dict[str, object], worker: str = "sender",
                 rng: random.Random | None = None, tenants: set[str] | None = None) -> None:
        self.crm = crm
        self.settings = settings
        self.secret = secret
        self.channels = channels
        self.worker = worker
        self.rng = rng or random.Random()
        self.pending = DueTimes()  # the log's times in pending.logged: what the checkpoint keeps
        self.outcomes: dict[str, int] = {}
        self.tenants = tenants  # None: every tenant's messages (else a dedicated worker's share)
        self.checkpoint_key = share_key("sender", tenants)

    # -- what is outstanding ---------------------------------------------------------------

    # What moves a message in or out of the outstanding set; not what follows its sending
    # (delivered, opened, clicked: most of a sent campaign's events, never read on a start-up).
    OBSERVED = frozenset({"Message.Queued", "Message.SendStarted", "Message.SendFailed",
                          "Message.Sent", "Message.Suppressed", "Message.Bounced"})
    interest_grows = False  # workers/log_worker.py: wants() is OBSERVED, always

    def wants(self, event_type: str) -> bool:
        return event_type in self.OBSERVED

    def observe(self, e: Envelope) -> None:
        if e.type not in self.OBSERVED or (self.tenants and e.tenant not in self.tenants):
            return
        key = e.aggregate_id
        match e.type:
            case "Message.Queued":
                self.pending.look_at(key, datetime.fromisoformat(e.data["not_before"]))
            case "Message.SendStarted":  # look again when the lease runs out
                self.pending.look_at(key, datetime.fromisoformat(e.data["lease_until"]))
            case "Message.SendFailed" if e.data["retry_at"]:
                self.pending.look_at(key, datetime.fromisoformat(e.data["retry_at"]))
            case "Message.SendFailed" | "Message.Sent" | "Message.Suppressed" | "Message.Bounced":
                self.pending.done(key)

    # -- the checkpoint (workers/checkpoints.py) ----------------------------------------------

    checkpoint_format = 1

    def state(self) -> list[list[str]]:
        return self.pending.state()

    def restore(self, state: list[list[str]]) -> None:
        self.pending.restore(state)

    def due(self, now: datetime) -> list[UUID]:
        return self.pending.due(now)

    # -- sending one -------------------------------------------------------------------------

    def perform(self, message_id: UUID, now: datetime) -> None:
        outcome = self._perform(message_id, now)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        log.info("message %s: %s", message_id, outcome)

    def _perform(self, message_id: UUID, now: datetime) -> str:
        crm = self.crm
        message: Message = crm.repository.get(message_id)
        meta = Meta(tenant_id=message.tenant_id, actor=f"sender {self.worker}",
                    causation_id=str(message_id))
        if message.status == "sending":
            if now < message.lease_until:
                self.pending.set(message_id, message.lease_until)
                return "claimed by another worker"
            message.abandon(meta, now)
            return "abandoned" if save(crm, message) else "lost race"
        if message.status != "queued":
            return f"already {message.status}"
        if now < message.due_at:
            self.pending.set(message_id, message.due_at)
            return "not due"
        customer = crm.repository.get(message.customer_id)
        if reason := refusal(customer, message.channel):
            message.suppress(meta, reason)
            return f"suppressed: {reason}" if save(crm, message) else "lost race"
        try:
            outgoing = compose(crm, message, customer, self.secret, self.settings.public_url,
                               self.settings.bounce_domain)
        except TemplateError as error:
            outgoing, problem = None, f"template {error.field}: {error.message}"
        attempt = message.start(meta, self.worker, now, timedelta(seconds=self.settings.lease_seconds))
        if not save(crm, message):
            return "lost race"
        if outgoing is None:
            message.failed(meta, problem)
            save(crm, message)
            return "failed: " + problem
        try:
            provider_id = self.channels[message.channel].send(outgoing)
        except Refused as refused:
            if refused.bounce:
                message.bounced(meta, refused.error)
                result, bounce = "bounced", refused.error
            elif refused.retryable and attempt < self.settings.send_attempts:
                retry_at = now + backoff(attempt, RETRY_FIRST, RETRY_CAP, self.rng)
                message.failed(meta, refused.error, retry_at)
                result = "retry"
            else:
                message.failed(meta, refused.error)
                result = "failed"
        except OutcomeUnknown as unknown:
            message.failed(meta, f"outcome unknown: {unknown}; not sent again")
            result = "outcome unknown"
        else:
            message.sent(meta, outgoing.to, provider_id, billed_parts(outgoing))
            result = "sent"
        if not save(crm, message):  # our lease ran out and another worker gave up on it
            log.warning("message %s: %s, but its lease had run out", message_id, result)
        elif result == "bounced":
            address_bounced(crm, meta, customer.id, message.channel, outgoing.to, bounce)
        return result
