"""The webhook worker (``crm worker webhooks``): POSTs events to the subscriptions that want them.

The body is the event's envelope exactly as projections see it
(``Envelope.to_json``). Every attempt carries::

    Content-Type: application/json
    Webhook-Id: <delivery id>            the same in every attempt and replay: de-duplicate by it
    Idempotency-Key: <delivery id>       the same value, under the name many frameworks know
    Webhook-Timestamp: <unix seconds>    when this attempt was signed
    Webhook-Signature: v1=<hex>          HMAC-SHA256(secret, "<timestamp>.<body>")
    Webhook-Event-Type: Customer.OrderRecorded
    Webhook-Attempt: <n>

A receiver checks the signature over the timestamp and the raw body, refuses
old timestamps (replayed captures), and answers 2xx once it has the event.
Anything else (or no answer within ``CRM_WEBHOOK_TIMEOUT``) is retried with
exponential backoff and jitter (``CRM_WEBHOOK_BACKOFF`` doubling up to
``CRM_WEBHOOK_BACKOFF_CAP``), ``CRM_WEBHOOK_ATTEMPTS`` times in all; then the
delivery is a dead letter until someone replays it. 410 Gone gives up at once.
Redirects are not followed. Events of a subscription created at log position
p are those after p; events while it is paused are not delivered.

Before every attempt the URL's host is resolved again and every address it has
must be public (commands/webhook_urls.py; ``CRM_WEBHOOKS_ALLOW_PRIVATE=1`` lifts
that); the request then goes to an address so checked, with the URL's host in
``Host`` and in TLS's SNI and certificate check, so a DNS answer that changes
between the check and the connection cannot point it elsewhere. A refused
address is a failed attempt like any other (retried, then a dead letter).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import time
from datetime import datetime, timedelta
from uuid import UUID

import httpx
from eventsourcing.application import AggregateNotFoundError

from commands.application import Crm
from commands.marketing_settings import MarketingSettings
from commands.webhook_urls import RefusedAddress, Resolver, delivery_addresses, resolve
from domain.base import InvalidTransition, Meta
from domain.webhook import NOW, WebhookDelivery, WebhookSubscription, delivery_id, matches
from projections.envelope import Envelope
from workers.checkpoints import items_of, rows_of, share_key
from workers.log_worker import DueTimes
from workers.projector import read_log
from workers.sender import backoff, save

log = logging.getLogger("crm.webhooks")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), str(timestamp).encode() + b"." + body,
                            hashlib.sha256).hexdigest()


def post_checked(client: httpx.Client, url: str, allow_private: bool, content: bytes,
                 headers: dict[str, str], timeout: float,
                 resolver: Resolver = resolve) -> httpx.Response:
    """POSTs to ``url`` at an address checked just now (see the module docstring).

    Addresses are tried in the resolver's order, as a client would. An https
    request asks for its connection to be closed afterwards: the connection
    pool knows connections by address, and one verified for this host must not
    carry another host's request that resolves to the same address.
    """
    target = httpx.URL(url)
    addresses = delivery_addresses(url, allow_private, resolver)
    headers = {**headers, "Host": target.netloc.decode("ascii")}
    if target.scheme == "https":
        headers["Connection"] = "close"
    for index, address in enumerate(addresses):
        try:
            return client.post(target.copy_with(host=address), content=content, headers=headers,
                               timeout=timeout, extensions={"sni_hostname": target.host})
        except httpx.ConnectError:
            if index == len(addresses) - 1:
                raise
    raise AssertionError("unreachable")


class WebhookDeliveries:
    name = "webhooks"

    def __init__(self, crm: Crm, settings: MarketingSettings, worker: str = "webhooks",
                 rng: random.Random | None = None, client: httpx.Client | None = None,
                 tenants: set[str] | None = None) -> None:
        self.crm = crm
        self.settings = settings
        self.worker = worker
        self.rng = rng or random.Random()
        self.client = client or httpx.Client(follow_redirects=False)
        self.tenants = tenants
        # What the log says (the subscriptions, the deliveries not yet started with what to start
        # them with, pending.logged): what the checkpoint keeps (workers/checkpoints.py).
        self.subscriptions: dict[UUID, dict] = {}
        self.first: dict[UUID, dict] = {}
        self.pending = DueTimes()
        self.outcomes: dict[str, int] = {}
        self.checkpoint_key = share_key("webhooks", tenants)

    # -- what is outstanding ---------------------------------------------------------------

    def wants(self, event_type: str) -> bool:
        """Its own aggregates' events, and any other only while an active subscription takes it."""
        return event_type.startswith(("WebhookSubscription.", "WebhookDelivery.")) or any(
            sub["status"] == "active" and matches(sub["filters"], event_type)
            for sub in self.subscriptions.values())

    def observe(self, e: Envelope) -> None:
        if self.tenants and e.tenant not in self.tenants:
            return
        kind, _, what = e.type.partition(".")
        if kind == "WebhookSubscription":
            self._subscription(e, what)
        elif kind == "WebhookDelivery":
            self._delivery(e, what)
        else:
            for subscription_id, sub in self.subscriptions.items():
                if (sub["tenant"] == e.tenant and sub["status"] == "active"
                        and e.position > sub["after"] and matches(sub["filters"], e.type)):
                    key = delivery_id(subscription_id, e.event_id)
                    self.first[key] = {"subscription_id": subscription_id, "event_id": e.event_id,
                                       "event_type": e.type, "position": e.position}
                    self.pending.look_at(key, NOW)

    def _subscription(self, e: Envelope, what: str) -> None:
        d = e.data
        if what == "Created":
            self.subscriptions[e.aggregate_id] = {"tenant": e.tenant, "filters": d["event_types"],
                                                  "status": "active", "after": e.position}
        elif e.aggregate_id in self.subscriptions:
            sub = self.subscriptions[e.aggregate_id]
            if what == "Changed":
                sub["filters"] = d["event_types"]
            elif what in ("Paused", "Resumed", "Deleted"):
                sub["status"] = {"Paused": "paused", "Resumed": "active", "Deleted": "deleted"}[what]
            if sub["status"] != "active":  # its deliveries not yet started never will be
                for key in [k for k, start in self.first.items()
                            if start["subscription_id"] == e.aggregate_id]:
                    del self.first[key]
                    self.pending.done(key)

    def _delivery(self, e: Envelope, what: str) -> None:
        key, d = e.aggregate_id, e.data
        if what in ("Started", "AttemptStarted"):
            self.first.pop(key, None)
            self.pending.look_at(key, datetime.fromisoformat(d["lease_until"]))
        elif what == "AttemptFailed" and d["retry_at"]:
            self.pending.look_at(key, datetime.fromisoformat(d["retry_at"]))
        elif what in ("Succeeded", "DeadLettered"):
            self.pending.done(key)
        elif what == "ReplayRequested":
            self.pending.look_at(key, NOW)

    # -- the checkpoint (workers/checkpoints.py) ----------------------------------------------

    checkpoint_format = 1

    def state(self) -> dict:
        return {"subscriptions": rows_of(self.subscriptions),
                "first": rows_of(self.first, ("subscription_id",)),
                "pending": self.pending.state()}

    def restore(self, state: dict) -> None:
        self.subscriptions = items_of(state["subscriptions"])
        self.first = items_of(state["first"], ("subscription_id",))
        self.pending.restore(state["pending"])

    def due(self, now: datetime) -> list[UUID]:
        return self.pending.due(now)

    # -- delivering one --------------------------------------------------------------------

    def perform(self, key: UUID, now: datetime) -> None:
        outcome = self._perform(key, now)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        log.info("webhook delivery %s: %s", key, outcome)

    def _perform(self, key: UUID, now: datetime) -> str:
        crm, lease = self.crm, timedelta(seconds=self.settings.lease_seconds)
        try:
            delivery = crm.repository.get(key)
        except AggregateNotFoundError:
            delivery = None
        if delivery is None:
            start = self.first.get(key)
            if start is None:
                return "unknown"
            subscription = crm.repository.get(start["subscription_id"])
            meta = Meta(tenant_id=subscription.tenant_id, actor=f"webhooks {self.worker}",
                        causation_id=start["event_id"])
            if subscription.status != "active":
                return f"subscription {subscription.status}"
            # Kept in `first` until the log shows it started: the checkpoint holds only the log.
            delivery = WebhookDelivery.start(meta, worker=self.worker, now=now, lease=lease, **start)
            if not save(crm, delivery):
                return "lost race"
        else:
            if delivery.status in ("delivered", "dead"):
                return f"already {delivery.status}"
            subscription = crm.repository.get(delivery.subscription_id)
            meta = Meta(tenant_id=subscription.tenant_id, actor=f"webhooks {self.worker}",
                        causation_id=delivery.event_id)
            if subscription.status != "active":
                delivery.dead_letter(meta, f"the subscription is {subscription.status}")
                save(crm, delivery)
                return f"subscription {subscription.status}"
            try:
                delivery.retry(meta, self.worker, now, lease)
            except InvalidTransition:
                self.pending.set(key, delivery.lease_until if delivery.status == "delivering"
                                 else delivery.due_at or now)
                return "not due"
            if not save(crm, delivery):
                return "lost race"
        return self._post(delivery, subscription, meta, now)

    def _post(self, delivery: WebhookDelivery, subscription: WebhookSubscription, meta: Meta,
              now: datetime) -> str:
        [envelope] = read_log(self.crm, delivery.position - 1, limit=1)
        assert envelope.event_id == delivery.event_id, "the log moved under a delivery"
        body = envelope.to_json()
        timestamp = int(now.timestamp())
        headers = {"Content-Type": "application/json", "User-Agent": "CravedCRM-Webhooks/1",
                   "Webhook-Id": str(delivery.id), "Idempotency-Key": str(delivery.id),
                   "Webhook-Timestamp": str(timestamp),
                   "Webhook-Signature": signature(subscription.secret, timestamp, body),
                   "Webhook-Event-Type": delivery.event_type,
                   "Webhook-Attempt": str(delivery.attempt)}
        started = time.monotonic()
        status, error = None, ""
        try:
            response = post_checked(self.client, subscription.url,
                                    self.settings.webhooks_allow_private, body, headers,
                                    self.settings.webhook_timeout)
            status = response.status_code
            error = f"HTTP {status}: {response.text[:200]}"
        except RefusedAddress as refused:
            error = str(refused)
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"
        duration = int((time.monotonic() - started) * 1000)
        if status is not None and 200 <= status < 300:
            delivery.succeeded(meta, status, duration)
            result = "delivered"
        else:
            tries = delivery.attempt - delivery.budget_start
            retry_at = None if status == 410 else now + backoff(
                tries, self.settings.webhook_backoff, self.settings.webhook_backoff_cap, self.rng)
            delivery.failed(meta, status, error, duration, retry_at, self.settings.webhook_attempts)
            result = "dead" if delivery.status == "dead" else "retry"
        if not save(self.crm, delivery):
            log.warning("delivery %s: %s, but its lease had run out", delivery.id, result)
        return result
