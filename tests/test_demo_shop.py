"""The demo shop (also the benchmark's data): campaigns reach the customers who opted in, and
their messages were sent, delivered, opened and clicked, as the campaign reports show."""

from __future__ import annotations

import gc
import logging
from collections import Counter
from dataclasses import replace

from fastapi.testclient import TestClient

from api import app as app_module
from api.app import create_app
from commands.application import Crm
from projections.stored import stored_envelopes
from tests.conftest import Tenant
from tests.support import wait_until
from workers import demo


def _events(crm: Crm) -> list:
    envelopes = stored_envelopes(crm.mapper)
    return envelopes.envelopes(list(crm.recorder.select_notifications(start=1, limit=1_000_000)))


def test_campaigns_go_to_the_newest_subscribers_every_so_many_sign_ups(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "CAMPAIGN_EVERY", 10)
    monkeypatch.setattr(demo, "CAMPAIGN_REACH", 15)
    monkeypatch.setattr(demo, "RECENT", 20)
    crm = Crm(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    try:
        demo.load_demo(crm, customers=100, seed=5)
        events = _events(crm)
    finally:
        crm.close()
    opted_in = [e.aggregate_id for e in events if e.type == "Customer.ConsentRecorded"
                and e.data["status"] == "opted_in"]
    launched = [e.data["customer_ids"] for e in events if e.type == "Campaign.Launched"]
    # One campaign per 10 new subscribers, and one for the last few.
    assert len(launched) == -(-len(opted_in) // 10)
    position = {str(customer): n for n, customer in enumerate(opted_in)}
    for number, audience in enumerate(launched):
        newest = min(10 * (number + 1), len(opted_in))
        assert len(audience) == min(15, newest) == len(set(audience))
        # Only subscribers, and only the 20 newest when the campaign went out.
        assert all(newest - 20 <= position[c] < newest for c in audience)
    types = Counter(e.type for e in events)
    messages = sum(len(audience) for audience in launched)
    assert types["Message.Queued"] == types["Message.Sent"] == types["Message.Delivered"] == messages
    assert 0 < types["Message.Clicked"] < types["Message.Opened"] < messages
    assert types["Campaign.Completed"] == len(launched)


def test_the_demo_campaign_report_shows_sends_opens_and_clicks(module_app, module_client):
    _, key = demo.load_demo(module_app.state.crm, customers=80, seed=9)
    shop = Tenant("demo", key, module_client)
    wait_until(lambda: shop.get("/v1/campaigns").json()["items"],
               "the demo campaign in the read models", every=0.1)
    [campaign] = shop.get("/v1/campaigns").json()["items"]
    assert campaign["status"] == "completed"

    def stages() -> dict[str, int]:
        report = shop.get(f"/v1/campaigns/{campaign['id']}/analytics").json()
        return {stage["name"]: stage["count"] for stage in report["stages"]}
    wait_until(lambda: stages()["sent"] >= campaign["audience_size"], "every demo message sent",
               every=0.1)
    reached = stages()
    assert reached["sent"] == reached["delivered"] == campaign["audience_size"] > 40
    assert 0 < reached["clicked"] < reached["opened"] < reached["delivered"]


def _stored_demo(settings, customers: int) -> tuple:
    """A demo shop in the event store only, as a node would find it on starting."""
    crm = Crm(settings.event_store_url)
    try:
        return demo.load_demo(crm, customers=customers, seed=3)
    finally:
        crm.close()


def test_a_node_serves_only_once_its_read_models_hold_what_was_stored(settings):
    """The first answer after start-up is not of read models still being projected
    (``crm serve --demo`` used to show an empty customer list for its first second)."""
    _, key = _stored_demo(settings, customers=60)
    with TestClient(create_app(settings)) as client:
        listed = client.get("/v1/customers", params={"limit": 100},
                            headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200 and len(listed.json()["items"]) == 60


def test_a_node_that_cannot_catch_up_in_time_serves_anyway_and_says_so(settings, caplog):
    _stored_demo(settings, customers=20)
    with caplog.at_level(logging.WARNING, "crm.projector"), \
            TestClient(create_app(replace(settings, startup_catch_up=0))) as client:
        assert client.get("/health").status_code == 200
    assert "serving before the read models caught up" in caplog.text


def test_a_serving_node_keeps_the_collector_off_its_start_up_objects(settings, monkeypatch):
    """Frozen while the node serves (a full collection over them paused every request for
    130-300 ms) and already while it catches up (a fifth of a start-up's time went to
    collections), collectable again once it stopped, so the tests' many apps do not pile up."""
    frozen_at_catch_up = []
    monkeypatch.setattr(app_module, "wait_for_head", lambda *args: frozen_at_catch_up.append(
        gc.get_freeze_count()))
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        assert gc.get_freeze_count() > 10_000
    assert frozen_at_catch_up[0] > 10_000
    assert gc.get_freeze_count() == 0
