"""Outbound webhooks: a tenant's subscriptions, and each delivery of an event to one of them.

A **WebhookSubscription** names a URL and the event types it wants (exact
types such as ``Customer.OrderRecorded``, a family such as ``Customer.*``, or
``*``), and holds the secret its deliveries are signed with. The secret is in
the subscription's events because the workers that sign need it; it is shown
to the tenant once, when created or rotated.

A **WebhookDelivery** is one event for one subscription. Its id derives from
(subscription, event): it is the idempotency key the receiver gets in every
attempt's headers, and two workers can only ever race for the same aggregate.
Delivery is **at least once**: an attempt is claimed (``AttemptStarted``, with a
lease) before the POST and its outcome recorded after; a worker that dies
in between leaves the lease to run out, and the next attempt is made by
another worker with the same idempotency key, so a receiver that remembers
keys processes each event once. A recorded success is never delivered again
unless someone asks for a replay.

A subscription's URL must reach a **public** address: never loopback, private,
link-local (cloud metadata), multicast, reserved or otherwise non-global
ones, which would let a tenant make the service call into its own network.
The rule (:func:`non_public`) is pure; the lookups that apply it live where the
I/O is: when a URL is given (commands/webhook_urls.py) and again right before
every POST, pinned to the address checked (workers/webhooks.py), because DNS
can change in between. ``CRM_WEBHOOKS_ALLOW_PRIVATE=1`` lifts it (tests, labs).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.values import text

# Aggregates whose events are the service's own bookkeeping (or hold secrets): never sent.
# (A membership's Created only opens its stream; its Entered, in the same save, is the news.)
INTERNAL = ("ApiKey.", "AnsweredRequest.", "Tenant.", "UniqueClaim.", "WebhookSubscription.",
            "WebhookDelivery.", "SegmentMembership.Created")
FILTER = re.compile(r"^(\*|[A-Z][A-Za-z]*\.(\*|[A-Z][A-Za-z]*))$")
MAX_FILTERS = 50
NOW = datetime.min.replace(tzinfo=timezone.utc)  # "due at once"


def delivery_id(subscription_id: UUID, event_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"craved-crm:webhook:{subscription_id}:{event_id}")


def non_public(address: str) -> str | None:
    """Why an IP address is not a public internet address; None when it is one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) aside
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for name, flag in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                       ("private", ip.is_private), ("multicast", ip.is_multicast),
                       ("unspecified", ip.is_unspecified), ("reserved", ip.is_reserved)):
        if flag:
            return f"a {name} address ({ip})"
    if not ip.is_global:
        return f"not a public address ({ip})"
    return None


def _url(url: str) -> str:
    url = text(url, "url", 2000, required=True)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError("the URL must be an absolute http(s) URL", "url")
    if parts.username or parts.password:
        raise DomainError("put no credentials in the URL; verify the signature instead", "url")
    return url


def _filters(event_types: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip() for t in event_types))
    if not cleaned:
        raise DomainError("name at least one event type (or \"*\")", "event_types")
    if len(cleaned) > MAX_FILTERS:
        raise DomainError(f"at most {MAX_FILTERS} event types", "event_types")
    for index, event_type in enumerate(cleaned):
        if not FILTER.match(event_type):
            raise DomainError(f"{event_type!r} is not an event type such as Customer.OrderRecorded, "
                              "a family such as Customer.*, or *", f"event_types[{index}]")
        if event_type != "*" and event_type.startswith(INTERNAL):
            raise DomainError(f"{event_type} events are not delivered", f"event_types[{index}]")
    return cleaned


def matches(filters: list[str], event_type: str) -> bool:
    if event_type.startswith(INTERNAL):
        return False
    family = event_type.split(".", 1)[0] + ".*"
    return "*" in filters or event_type in filters or family in filters


class WebhookSubscription(CrmAggregate):
    """State: url, event_types, description, secret, status (active, paused, deleted)."""

    class Created(CrmAggregate.Created):
        url: str
        event_types: list[str]
        description: str | None
        secret: str

        def apply(self, subscription: WebhookSubscription) -> None:
            super().apply(subscription)
            subscription.url = self.url
            subscription.event_types = list(self.event_types)
            subscription.description = self.description
            subscription.secret = self.secret
            subscription.status = "active"

    class Changed(CrmAggregate.Event):
        url: str
        event_types: list[str]
        description: str | None

        def apply(self, subscription: WebhookSubscription) -> None:
            subscription.url = self.url
            subscription.event_types = list(self.event_types)
            subscription.description = self.description

    class SecretRotated(CrmAggregate.Event):
        secret: str

        def apply(self, subscription: WebhookSubscription) -> None:
            subscription.secret = self.secret

    class Paused(CrmAggregate.Event):
        def apply(self, subscription: WebhookSubscription) -> None:
            subscription.status = "paused"

    class Resumed(CrmAggregate.Event):
        def apply(self, subscription: WebhookSubscription) -> None:
            subscription.status = "active"

    class Deleted(CrmAggregate.Event):
        def apply(self, subscription: WebhookSubscription) -> None:
            subscription.status = "deleted"

    @classmethod
    def create(cls, meta: Meta, url: str, event_types: list[str], description: str | None,
               secret: str) -> WebhookSubscription:
        return cls._start(cls.Created, meta, url=_url(url), event_types=_filters(event_types),
                          description=text(description, "description", 500), secret=secret)

    def change(self, meta: Meta, url: str | None = None, event_types: list[str] | None = None,
               description: str | None = None) -> None:
        self._refuse_if_deleted()
        new = {"url": _url(url) if url is not None else self.url,
               "event_types": _filters(event_types) if event_types is not None else self.event_types,
               "description": text(description, "description", 500) if description is not None
               else self.description}
        if new != {"url": self.url, "event_types": self.event_types, "description": self.description}:
            self._record(self.Changed, meta, **new)

    def rotate_secret(self, meta: Meta, secret: str) -> None:
        self._refuse_if_deleted()
        self._record(self.SecretRotated, meta, secret=secret)

    def pause(self, meta: Meta) -> None:
        if self.status != "active":
            raise InvalidTransition(f"the subscription is {self.status}")
        self._record(self.Paused, meta)

    def resume(self, meta: Meta) -> None:
        if self.status != "paused":
            raise InvalidTransition(f"the subscription is {self.status}")
        self._record(self.Resumed, meta)

    def delete(self, meta: Meta) -> None:
        self._refuse_if_deleted()
        self._record(self.Deleted, meta)

    def _refuse_if_deleted(self) -> None:
        if self.status == "deleted":
            raise InvalidTransition("the subscription is deleted")


class WebhookDelivery(CrmAggregate):
    """State: subscription_id, event_id, event_type, position, status (delivering, waiting,
    delivered, dead), attempt, lease_until, due_at, budget_start."""

    class Started(CrmAggregate.Created):
        subscription_id: UUID
        event_id: str
        event_type: str
        position: int
        worker: str
        lease_until: datetime

        def apply(self, delivery: WebhookDelivery) -> None:
            super().apply(delivery)
            delivery.subscription_id = self.subscription_id
            delivery.event_id = self.event_id
            delivery.event_type = self.event_type
            delivery.position = self.position
            delivery.status = "delivering"
            delivery.attempt = 1
            delivery.lease_until = self.lease_until
            delivery.due_at = None
            delivery.budget_start = 0

    class AttemptStarted(CrmAggregate.Event):
        attempt: int
        worker: str
        lease_until: datetime

        def apply(self, delivery: WebhookDelivery) -> None:
            delivery.status = "delivering"
            delivery.attempt = self.attempt
            delivery.lease_until = self.lease_until

    class Succeeded(CrmAggregate.Event):
        attempt: int
        status_code: int
        duration_ms: int

        def apply(self, delivery: WebhookDelivery) -> None:
            delivery.status = "delivered"

    class AttemptFailed(CrmAggregate.Event):
        attempt: int
        status_code: int | None
        error: str
        duration_ms: int | None
        retry_at: datetime | None      # None: no more attempts (DeadLettered follows)

        def apply(self, delivery: WebhookDelivery) -> None:
            delivery.status = "waiting"
            delivery.due_at = self.retry_at

    class DeadLettered(CrmAggregate.Event):
        reason: str

        def apply(self, delivery: WebhookDelivery) -> None:
            delivery.status = "dead"

    class ReplayRequested(CrmAggregate.Event):
        def apply(self, delivery: WebhookDelivery) -> None:
            delivery.status = "waiting"
            delivery.due_at = NOW  # due at once, whatever a worker's clock says
            delivery.budget_start = delivery.attempt

    @classmethod
    def start(cls, meta: Meta, subscription_id: UUID, event_id: str, event_type: str,
              position: int, worker: str, now: datetime, lease: timedelta) -> WebhookDelivery:
        """The first attempt: creating the aggregate is the claim."""
        return cls._start(cls.Started, meta, id=delivery_id(subscription_id, event_id),
                          subscription_id=subscription_id, event_id=event_id,
                          event_type=event_type, position=position, worker=worker,
                          lease_until=now + lease)

    def retry(self, meta: Meta, worker: str, now: datetime, lease: timedelta) -> int:
        """Claims the next attempt: a waiting delivery that is due, or one whose worker's lease
        ran out (that attempt's outcome is unknown; the receiver de-duplicates by the key)."""
        if self.status == "delivering":
            if now < self.lease_until:
                raise InvalidTransition("another worker is delivering it")
            self._record(self.AttemptFailed, meta, attempt=self.attempt, status_code=None,
                         duration_ms=None, retry_at=now,
                         error="no outcome recorded: the worker stopped mid-delivery")
        elif self.status != "waiting" or self.due_at is None or now < self.due_at:
            raise InvalidTransition(f"the delivery is {self.status}, not due")
        self._record(self.AttemptStarted, meta, attempt=self.attempt + 1, worker=worker,
                     lease_until=now + lease)
        return self.attempt

    def succeeded(self, meta: Meta, status_code: int, duration_ms: int) -> None:
        self._require("delivering")
        self._record(self.Succeeded, meta, attempt=self.attempt, status_code=status_code,
                     duration_ms=duration_ms)

    def failed(self, meta: Meta, status_code: int | None, error: str, duration_ms: int | None,
               retry_at: datetime | None, max_attempts: int) -> None:
        """Records a failed attempt; past ``max_attempts`` (since the last replay), or with no
        ``retry_at`` (the receiver said never), the delivery goes to the dead letters."""
        self._require("delivering")
        if self.attempt - self.budget_start >= max_attempts:
            retry_at = None
        self._record(self.AttemptFailed, meta, attempt=self.attempt, status_code=status_code,
                     error=error[:1000], duration_ms=duration_ms, retry_at=retry_at)
        if retry_at is None:
            self._record(self.DeadLettered, meta,
                         reason=f"gave up after {self.attempt - self.budget_start} attempt(s): "
                                f"{error[:500]}")

    def dead_letter(self, meta: Meta, reason: str) -> None:
        if self.status in ("dead", "delivered"):
            return
        self._record(self.DeadLettered, meta, reason=reason)

    def replay(self, meta: Meta) -> None:
        """Delivers again (a dead letter, or a delivered event the receiver lost)."""
        if self.status not in ("dead", "delivered"):
            raise InvalidTransition(f"the delivery is {self.status}; only a dead or delivered "
                                    "one is replayed")
        self._record(self.ReplayRequested, meta)

    def _require(self, status: str) -> None:
        if self.status != status:
            raise InvalidTransition(f"the delivery is {self.status}, not {status}")
