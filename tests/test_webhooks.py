"""Outbound webhooks against a real HTTP receiver on loopback: signed envelopes for the types a
subscription wants, retries after 500s with backoff, dead letters and replays, the delivery
log, and no duplicate processing when a worker process is killed mid-delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from commands.marketing_settings import MarketingSettings
from commands.webhook_urls import RefusedAddress, check_subscription_url
from domain.base import DomainError
from domain.webhook import WebhookDelivery, non_public
from tests.marketing_support import FakeClock, HttpRecorder, caught_up
from tests.support import assert_problem, head, wait_until
from workers.log_worker import LogWorker
from workers.webhooks import WebhookDeliveries, post_checked, signature

ROOT = Path(__file__).resolve().parents[1]


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


class Receiver:
    """A webhook endpoint as a careful receiver writes it: it checks the signature over
    "timestamp.body", answers 500 while told to fail, and processes each Webhook-Id once."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}          # path -> signing secret
        self.failures: dict[str, int] = {}         # event type -> 500s still to answer
        self.processed: dict[str, dict] = {}       # Webhook-Id -> envelope, first time only
        self.bad_signatures = 0
        self.hold: threading.Event | None = None   # set: requests wait for it (a kill test)
        self.arrived = threading.Event()
        self.recorder = HttpRecorder(respond=self.respond)

    def respond(self, request):
        secret = self.secrets[request.path]
        timestamp = request.headers["webhook-timestamp"]
        expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + request.body,
                                    hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers["webhook-signature"]):
            self.bad_signatures += 1
            return 401, {"error": "bad signature"}
        if self.hold is not None:
            self.arrived.set()
            self.hold.wait(60)
        event_type = request.headers["webhook-event-type"]
        if self.failures.get(event_type, 0) > 0:
            self.failures[event_type] -= 1
            return 500, {"error": "try later"}
        self.processed.setdefault(request.headers["webhook-id"], json.loads(request.body))
        return 200, {"ok": True}

    def requests_for(self, webhook_id: str) -> list:
        return self.recorder.matching(lambda r: r.headers["webhook-id"] == webhook_id)


@pytest.fixture(scope="module")
def receiver(module_app):
    receiver = Receiver()
    receiver.url = receiver.recorder.start()
    yield receiver
    receiver.recorder.stop()


@pytest.fixture(scope="module")
def marketing(module_app) -> MarketingSettings:
    settings = MarketingSettings(webhook_attempts=3, webhook_backoff=30, lease_seconds=120,
                                 webhook_timeout=30, webhooks_allow_private=True)  # loopback
    module_app.state.marketing = settings
    return settings


@pytest.fixture
def clock():
    return FakeClock(datetime.now(timezone.utc))


@pytest.fixture
def shop(make_tenant, marketing):
    return make_tenant("Hooked shop")


def subscribe(shop, receiver, path: str, event_types: list[str]) -> dict:
    created = _ok(shop.post("/v1/webhooks", {"url": receiver.url + path, "event_types": event_types,
                                             "description": "ERP sync"}))
    assert created["secret"].startswith("whsec_")
    receiver.secrets[path] = created["secret"]
    return created


def deliveries_worker(crm, marketing, clock, shop) -> LogWorker:
    import random
    job = WebhookDeliveries(crm, marketing, worker="test", rng=random.Random(7), tenants={shop.id})
    return LogWorker(crm, [job], clock)


def log_of(shop, subscription_id: str, **params) -> list[dict]:
    return _ok(shop.get(f"/v1/webhooks/{subscription_id}/deliveries", params=params))["items"]


def test_matching_events_are_posted_signed_with_the_envelope(module_app, shop, make_tenant,
                                                             receiver, marketing, clock):
    crm = module_app.state.crm
    before = shop.register("Before Subscribing", None)["id"]
    customers_hook = subscribe(shop, receiver, "/customers", ["Customer.*"])
    won_hook = subscribe(shop, receiver, "/won", ["Opportunity.Won"])
    ada = shop.register("Ada Hook", "ada@hook.example")["id"]
    _ok(shop.post(f"/v1/customers/{ada}/notes", {"text": "likes celadon"}))
    _ok(shop.post("/v1/tasks", {"title": "call Ada", "customer_id": ada}))   # not subscribed
    other = make_tenant("Not hooked")
    other.register("Someone Else", None)

    worker = deliveries_worker(crm, marketing, clock, shop)
    assert worker.run_until_idle() == 2
    assert receiver.bad_signatures == 0
    ours = {body["type"]: (webhook_id, body) for webhook_id, body in receiver.processed.items()
            if body["stream"] == ada}
    assert set(ours) == {"Customer.Registered", "Customer.NoteAdded"}
    assert not any(body["stream"] == before for body in receiver.processed.values())
    webhook_id, envelope = ours["Customer.NoteAdded"]
    assert envelope["tenant"] == shop.id and envelope["version"] == 2
    assert envelope["data"] == {"text": "likes celadon"} and envelope["envelope_version"] == 1
    [request] = receiver.requests_for(webhook_id)
    assert request.path == "/customers"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == webhook_id
    assert request.headers["webhook-attempt"] == "1"
    assert int(request.headers["webhook-timestamp"]) == int(clock().timestamp())
    assert receiver.recorder.matching(lambda r: r.path == "/won") == []

    caught_up(shop.client.app)
    logged = log_of(shop, customers_hook["id"])
    assert [(d["event_type"], d["status"], d["attempts"]) for d in logged] == [
        ("Customer.NoteAdded", "delivered", 1), ("Customer.Registered", "delivered", 1)]
    assert logged[0]["id"] == webhook_id
    attempt = logged[0]["attempt_log"][0]
    assert (attempt["attempt"], attempt["outcome"], attempt["status_code"], attempt["worker"]) == (
        1, "delivered", 200, "test")
    detail = _ok(shop.get(f"/v1/webhooks/{customers_hook['id']}"))
    assert detail["deliveries"]["delivered"] == 2 and "secret" not in detail
    assert _ok(shop.get(f"/v1/webhooks/{won_hook['id']}"))["event_types"] == ["Opportunity.Won"]
    # A restarted worker finds everything delivered: nothing is sent twice.
    assert deliveries_worker(crm, marketing, clock, shop).run_until_idle() == 0


def test_500s_are_retried_with_backoff_then_dead_lettered_and_replayed(module_app, shop, receiver,
                                                                       marketing, clock):
    crm = module_app.state.crm
    hook = subscribe(shop, receiver, "/retry", ["Customer.Registered", "Customer.TagsChanged"])
    receiver.failures["Customer.Registered"] = 2
    bea = shop.register("Bea Retry", None)["id"]
    worker = deliveries_worker(crm, marketing, clock, shop)
    start = clock()
    worker.run_until_idle()
    caught_up(shop.client.app)
    [delivery] = log_of(shop, hook["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("waiting", 1, 500)
    first_wait = datetime.fromisoformat(str(delivery["next_attempt_at"])) - start
    assert timedelta(seconds=15) <= first_wait <= timedelta(seconds=30)    # 30 s with jitter
    clock.advance(seconds=31)
    worker.run_until_idle()
    caught_up(shop.client.app)
    [delivery] = log_of(shop, hook["id"])
    second_wait = datetime.fromisoformat(str(delivery["next_attempt_at"])) - clock()
    assert timedelta(seconds=30) <= second_wait <= timedelta(seconds=60)   # doubled
    clock.advance(seconds=61)
    worker.run_until_idle()
    caught_up(shop.client.app)
    [delivery] = log_of(shop, hook["id"])
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in delivery["attempt_log"]] == [
        (1, "failed", 500), (2, "failed", 500), (3, "delivered", 200)]
    assert len(receiver.requests_for(delivery["id"])) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests_for(delivery["id"])}) == 1

    # Always failing: three attempts, then a dead letter.
    receiver.failures["Customer.TagsChanged"] = 100
    _ok(shop.post(f"/v1/customers/{bea}/tags", {"add": ["vip"], "remove": []}))
    for _ in range(4):
        worker.run_until_idle()
        clock.advance(minutes=5)
    caught_up(shop.client.app)
    dead = _ok(shop.get("/v1/webhooks/dead-letters"))["items"]
    [letter] = [d for d in dead if d["subscription_id"] == hook["id"]]
    assert letter["event_type"] == "Customer.TagsChanged" and letter["attempts"] == 3
    assert letter["dead_reason"].startswith("gave up after 3 attempt(s): HTTP 500")
    assert len(receiver.requests_for(letter["id"])) == 3

    # Replayed once the receiver is fixed: delivered, with the same Webhook-Id.
    receiver.failures["Customer.TagsChanged"] = 0
    replayed = _ok(shop.post(f"/v1/webhooks/{hook['id']}/deliveries/{letter['id']}/replay", {}))
    worker.run_until_idle()
    delivered = _ok(shop.get(f"/v1/webhooks/{hook['id']}/deliveries/{letter['id']}",
                             token=replayed["consistency_token"]))
    caught_up(shop.client.app)
    delivered = _ok(shop.get(f"/v1/webhooks/{hook['id']}/deliveries/{letter['id']}"))
    assert (delivered["status"], delivered["attempts"]) == ("delivered", 4)
    assert delivered["replayed_by"].startswith("key ")
    assert letter["id"] in receiver.processed
    # Only dead or delivered deliveries are replayed; another tenant's are not found.
    assert_problem(shop.post(f"/v1/webhooks/{hook['id']}/deliveries/{UUID(int=1)}/replay", {}), 404)


def test_subscription_rules(module_app, shop, receiver, marketing, clock):
    for body, field in (({"url": "ftp://x.example/h", "event_types": ["*"]}, "url"),
                        ({"url": "https://u:p@x.example/h", "event_types": ["*"]}, "url"),
                        ({"url": "https://x.example/h", "event_types": ["customer.registered"]},
                         "event_types[0]"),
                        ({"url": "https://x.example/h", "event_types": ["ApiKey.*"]},
                         "event_types[0]"),
                        ({"url": "https://x.example/h", "event_types": []}, "event_types")):
        assert_problem(shop.post("/v1/webhooks", body), 422, field)
    hook = subscribe(shop, receiver, "/paused", ["Customer.*"])
    _ok(shop.post(f"/v1/webhooks/{hook['id']}/pause", {}))
    assert_problem(shop.post(f"/v1/webhooks/{hook['id']}/pause", {}), 409)
    shop.register("While Paused", None)
    worker = deliveries_worker(module_app.state.crm, marketing, clock, shop)
    assert worker.run_until_idle() == 0
    resumed = _ok(shop.post(f"/v1/webhooks/{hook['id']}/resume", {}))
    rotated = _ok(shop.post(f"/v1/webhooks/{hook['id']}/rotate-secret", {}))
    assert rotated["secret"] != hook["secret"]
    receiver.secrets["/paused"] = rotated["secret"]
    cal = shop.register("After Resuming", None)["id"]
    assert worker.run_until_idle() == 1
    assert any(body["stream"] == cal for body in receiver.processed.values())
    assert receiver.bad_signatures == 0
    _ok(shop.patch(f"/v1/webhooks/{hook['id']}", {"event_types": ["Opportunity.*"]}))
    deleted = _ok(shop.client.delete(f"/v1/webhooks/{hook['id']}", headers=shop.headers))
    listed = _ok(shop.get("/v1/webhooks", token=deleted["consistency_token"]))
    assert hook["id"] not in [h["id"] for h in listed]
    assert resumed["version"] < deleted["version"]


# -- where a webhook may go --------------------------------------------------------------------

PRIVATE_URLS = ("http://127.0.0.1:8080/h", "http://localhost/h", "http://10.1.2.3/h",
                "http://192.168.0.10:9000/h", "http://169.254.169.254/latest/meta-data",
                "http://[::1]/h", "http://[::ffff:127.0.0.1]/h", "http://[fd00::5]/h",
                "http://100.64.0.1/h", "http://0.0.0.0/h")


def test_subscription_urls_must_reach_public_addresses_unless_allowed(module_app, shop, receiver,
                                                                       marketing):
    allowed = subscribe(shop, receiver, "/allowed", ["Customer.*"])   # loopback, allowed here
    module_app.state.marketing = replace(marketing, webhooks_allow_private=False)
    try:
        before = head(module_app)
        for url in PRIVATE_URLS:
            problem = assert_problem(shop.post("/v1/webhooks", {"url": url, "event_types": ["*"]}),
                                     422, "url")
            [error] = problem["errors"]
            assert "public addresses only" in error["reason"], (url, error)
        assert "loopback address (127.0.0.1)" in problem_reason(shop, "http://localhost:1/x")
        assert "link-local address (169.254.169.254)" in problem_reason(
            shop, "http://169.254.169.254/latest/meta-data")
        changed = shop.patch(f"/v1/webhooks/{allowed['id']}", {"url": "http://10.0.0.7/h"})
        assert_problem(changed, 422, "url")
        assert head(module_app) == before
    finally:
        module_app.state.marketing = marketing
    # Allowed again (CRM_WEBHOOKS_ALLOW_PRIVATE=1): the same URLs are accepted.
    for url in ("http://10.1.2.3/h", "http://[::1]/h"):
        _ok(shop.post("/v1/webhooks", {"url": url, "event_types": ["Opportunity.Won"]}))


def problem_reason(shop, url: str) -> str:
    response = shop.post("/v1/webhooks", {"url": url, "event_types": ["*"]})
    return assert_problem(response, 422, "url")["errors"][0]["reason"]


def test_the_address_is_checked_again_right_before_each_delivery(module_app, shop, receiver,
                                                                  marketing, clock):
    """A name that led somewhere acceptable when subscribed may lead to loopback later (DNS
    changed): the delivery is refused then, and goes through once addresses are acceptable."""
    crm = module_app.state.crm
    port = receiver.url.rsplit(":", 1)[1]
    created = _ok(shop.post("/v1/webhooks", {"url": f"http://localhost:{port}/dns",
                                             "event_types": ["Customer.Registered"]}))
    receiver.secrets["/dns"] = created["secret"]
    eli = shop.register("Eli Dns", None)["id"]
    strict = replace(marketing, webhooks_allow_private=False)
    deliveries_worker(crm, strict, clock, shop).run_until_idle()
    assert receiver.recorder.matching(lambda r: r.path == "/dns") == []
    caught_up(shop.client.app)
    [delivery] = log_of(shop, created["id"])
    assert (delivery["status"], delivery["attempts"]) == ("waiting", 1)
    assert delivery["last_error"].startswith("refused: localhost is a loopback address")

    clock.advance(seconds=31)
    deliveries_worker(crm, marketing, clock, shop).run_until_idle()
    [request] = receiver.recorder.matching(lambda r: r.path == "/dns")
    assert request.headers["host"] == f"localhost:{port}"   # sent to the address checked
    assert json.loads(request.body)["stream"] == eli
    caught_up(shop.client.app)
    assert log_of(shop, created["id"])[0]["status"] == "delivered"


def test_a_request_goes_to_the_address_checked_with_the_name_in_host(receiver):
    """The worker connects to the address it checked (here a name no DNS knows, resolved by
    the test), not to whatever a second lookup would say; the name travels in Host."""
    receiver.secrets["/pinned"] = "whsec_test"
    port = int(receiver.url.rsplit(":", 1)[1])
    body = b'{"hello": "pinned"}'
    headers = {"Content-Type": "application/json", "Webhook-Id": "pinned-1",
               "Webhook-Timestamp": "1", "Webhook-Signature": signature("whsec_test", 1, body),
               "Webhook-Event-Type": "Test.Pinned"}
    resolver = {"hooks.test": ["127.0.0.1"], "public.test": ["93.184.216.34"]}.get
    with httpx.Client() as client:
        response = post_checked(client, f"http://hooks.test:{port}/pinned", True, body, headers, 5,
                                resolver=lambda host, _: resolver(host))
        assert response.status_code == 200
        with pytest.raises(RefusedAddress, match="loopback"):
            post_checked(client, f"http://hooks.test:{port}/pinned", False, body, headers, 5,
                         resolver=lambda host, _: resolver(host))
    [request] = receiver.requests_for("pinned-1")
    assert request.headers["host"] == f"hooks.test:{port}"
    # The rule itself: public addresses pass, the rest say why not.
    assert non_public("93.184.216.34") is None and non_public("2606:4700:4700::1111") is None
    assert non_public("fe80::1%eth0").startswith("a link-local address")
    check_subscription_url("https://public.test/h", False, lambda host, _: resolver(host))
    with pytest.raises(DomainError) as refused:
        check_subscription_url("https://hooks.test/h", False, lambda host, _: resolver(host))
    assert refused.value.field == "url"


# -- killing a worker process mid-delivery ----------------------------------------------------

def start_worker_process(settings) -> subprocess.Popen:
    env = {**os.environ, "CRM_EVENT_STORE": settings.event_store_url,
           "CRM_DATA_DIR": str(settings.data_dir), "CRM_LEASE_SECONDS": "120",
           "CRM_WORKER_NAME": "doomed", "CRM_WEBHOOKS_ALLOW_PRIVATE": "1",
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "webhooks"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_worker_killed_mid_delivery_causes_no_duplicate(app, client, tenant, settings):
    crm = app.state.crm
    receiver = Receiver()
    receiver.url = receiver.recorder.start()
    marketing = MarketingSettings(lease_seconds=120, webhooks_allow_private=True)
    app.state.marketing = marketing
    try:
        subscribe(tenant, receiver, "/kill", ["Customer.*"])
        dee = tenant.register("Dee Killed", None)["id"]

        # 1. Killed while the receiver has the request and has not answered yet.
        receiver.hold = threading.Event()
        doomed = start_worker_process(settings)
        try:
            wait_until(receiver.arrived.is_set, "the first attempt", 60, 0.02)
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(30)
        finally:
            if doomed.poll() is None:
                doomed.kill()
        receiver.hold.set()
        receiver.hold = None
        [first] = receiver.recorder.requests
        webhook_id = first.headers["webhook-id"]
        delivery = crm.repository.get(UUID(webhook_id))
        assert isinstance(delivery, WebhookDelivery) and delivery.status == "delivering"

        # Another worker takes over once the lease ran out: same Webhook-Id, processed once.
        later = FakeClock(datetime.now(timezone.utc) + timedelta(seconds=121))
        deliveries_worker(crm, marketing, later, tenant).run_until_idle()
        requests = receiver.requests_for(webhook_id)
        assert len(requests) == 2
        assert [r.headers["webhook-attempt"] for r in requests] == ["1", "2"]
        assert list(receiver.processed) == [webhook_id]
        assert crm.repository.get(UUID(webhook_id)).status == "delivered"

        # 2. Killed after the delivery was recorded: the next worker sends nothing again.
        _ok(tenant.post(f"/v1/customers/{dee}/notes", {"text": "second"}))
        survivor = start_worker_process(settings)
        try:
            wait_until(lambda: len(receiver.processed) == 2, "the second delivery", 60, 0.02)
            second = next(key for key in receiver.processed if key != webhook_id)
            wait_until(lambda: crm.repository.get(UUID(second)).status == "delivered",
                       "the second delivery to be recorded", 60, 0.02)
            survivor.send_signal(signal.SIGKILL)
            survivor.wait(30)
        finally:
            if survivor.poll() is None:
                survivor.kill()
        much_later = FakeClock(datetime.now(timezone.utc) + timedelta(hours=1))
        assert deliveries_worker(crm, marketing, much_later, tenant).run_until_idle() == 0
        assert len(receiver.requests_for(second)) == 1
        assert receiver.bad_signatures == 0
    finally:
        receiver.recorder.stop()
