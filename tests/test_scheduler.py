"""Scheduled launches: apscheduler jobs rebuilt from the events on every start (a restart loses
none, a launch never happens twice), launches by an injected clock, a launch that cannot
happen recorded on the campaign, and one real apscheduler firing on the wall clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from domain.campaign import Campaign
from tests.marketing_support import FakeClock
from tests.support import wait_until
from tests.test_sending import customer, settle
from workers.scheduler import SchedulerWorker


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture
def shop(make_tenant):
    return make_tenant("Scheduled shop")


def scheduled(shop, when: datetime, audience: list[str] | None) -> str:
    body = {"name": "Spring", "channel": "email", "subject": "Hi", "body": "Spring is here"}
    if audience:
        body["customer_ids"] = audience
    campaign = _ok(shop.post("/v1/campaigns", body))["id"]
    _ok(shop.post(f"/v1/campaigns/{campaign}/schedule", {"scheduled_for": when.isoformat()}))
    return campaign


def mine(timetable: dict, campaigns: list[str]) -> dict[str, datetime]:
    return {key: when for key, when in timetable.items()
            if key.removeprefix("campaign:") in campaigns}


def test_schedules_survive_restarts_and_launch_once_by_the_clock(module_app, shop):
    crm = module_app.state.crm
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ada = customer(shop, "Ada Early", "ada@scheduled.example")
    launches = scheduled(shop, now + timedelta(days=2), [ada])
    cancelled = scheduled(shop, now + timedelta(days=2), [ada])
    _ok(shop.post(f"/v1/campaigns/{cancelled}/cancel", {}))
    moved = scheduled(shop, now + timedelta(days=1), [ada])
    _ok(shop.post(f"/v1/campaigns/{moved}/schedule",
                  {"scheduled_for": (now + timedelta(days=5)).isoformat()}))
    no_audience = scheduled(shop, now + timedelta(days=2, hours=1), None)
    ours = [launches, cancelled, moved, no_audience]
    expected = {f"campaign:{launches}": now + timedelta(days=2),
                f"campaign:{moved}": now + timedelta(days=5),
                f"campaign:{no_audience}": now + timedelta(days=2, hours=1)}

    clock = FakeClock(now)
    first = SchedulerWorker(crm, clock)
    first.start(paused=True)            # jobs rebuilt from the events, none run
    assert mine(first.timetable(), ours) == expected
    assert first.fire() == 0            # nothing is due yet
    first.stop()                        # the worker goes away...

    clock.advance(days=3)               # ...and comes back after two launch times passed
    second = SchedulerWorker(crm, clock)
    second.start(paused=True)
    assert mine(second.timetable(), ours) == expected
    assert second.fire() == 2
    assert mine(second.timetable(), ours) == {f"campaign:{moved}": now + timedelta(days=5)}
    assert second.launches.results[UUID(launches)] == "launched"
    assert second.launches.results[UUID(no_audience)].startswith("failed: customer_ids")
    second.stop()

    view = settle(shop, launches)
    assert (view["status"], view["recipients"]) == ("running", 1)
    failed = settle(shop, no_audience)
    assert failed["status"] == "draft" and "no audience" in failed["launch_error"]
    # A third start finds nothing more to launch: no campaign launches twice.
    third = SchedulerWorker(crm, clock)
    third.start(paused=True)
    assert mine(third.timetable(), ours) == {f"campaign:{moved}": now + timedelta(days=5)}
    assert third.fire() == 0
    third.stop()
    assert crm.load(Campaign, UUID(launches), shop.id).status == "running"


def test_apscheduler_launches_on_the_wall_clock(module_app, shop):
    crm = module_app.state.crm
    ada = customer(shop, "Ada Soon", "ada@soon.example")
    campaign = scheduled(shop, datetime.now(timezone.utc) + timedelta(seconds=1), [ada])
    worker = SchedulerWorker(crm, poll=0.2)
    worker.start()
    try:
        wait_until(lambda: crm.load(Campaign, UUID(campaign), shop.id).status == "running",
                   "the scheduled launch", 20)
    finally:
        worker.stop()


def test_the_embedded_mode_runs_the_workers_in_process(app, client, tenant, settings, monkeypatch):
    from tests.marketing_support import SmtpSink, start_smtp
    from workers.marketing import start_embedded

    sink = SmtpSink()
    controller = start_smtp(sink)
    for name, value in (("CRM_SMTP_HOST", "127.0.0.1"), ("CRM_SMTP_PORT", str(controller.port)),
                        ("CRM_SMTP_STARTTLS", "false"), ("CRM_TRACKING_SECRET", "embedded")):
        monkeypatch.setenv(name, value)
    stopping = start_embedded(settings, app.state.store)
    try:
        zoe = customer(tenant, "Zoe Embedded", "zoe@embedded.example")
        campaign = _ok(tenant.post("/v1/campaigns", {"name": "Now", "channel": "email",
                                                     "subject": "Hello {{ customer.first_name }}",
                                                     "body": "Hi", "customer_ids": [zoe]}))
        _ok(tenant.post(f"/v1/campaigns/{campaign['id']}/launch", {}))
        wait_until(lambda: sink.to("zoe@embedded.example"), "the embedded sender's message", 20)
        assert sink.to("zoe@embedded.example")[0].message["Subject"] == "Hello Zoe"
    finally:
        stopping.set()
        controller.stop()
