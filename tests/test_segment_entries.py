"""Segment entries as events, and automations they trigger, through HTTP: a customer's order
puts them in a dynamic segment; the node job records ``SegmentMembership.Entered``; the
automation worker starts a run that sends an email. The same change seen by two query nodes
(two read stores, each fed by the real projector) is recorded once and starts one run; leaving
and entering again starts a second run; another tenant's segment cannot be a trigger."""

from __future__ import annotations

import logging
from uuid import UUID

import pytest

from domain.membership import membership_id
from domain.webhook import matches
from readmodels.store import ReadStore
from tests.marketing_support import caught_up
from tests.support import assert_problem, head
from tests.test_sending import (approved_template, clock, customer, marketing, shop,  # noqa: F401
                                smtp, worker)
from tests.test_automations import _ok, automations
from workers.projector import Projector, catch_up, read_log
from workers.segment_entries import SegmentEntries

LOYAL = {"and": [{"field": "lifetime_spend", "op": "gte", "value": "100"},
                 {"not": {"field": "tag", "op": "contains", "value": "lapsed"}}]}


def membership_events(crm, segment: str, customer_id: str) -> list[str]:
    key = membership_id(UUID(segment), UUID(customer_id))
    return [type(e).__qualname__ for e in crm.events.get(key)]


def runs_of(shop, automation: str) -> list[dict]:
    caught_up(shop.client.app)
    return _ok(shop.get(f"/v1/automations/{automation}/runs"))["items"]


@pytest.fixture
def second_node(module_app, tmp_path):
    """Another query node: its own DuckDB file, fed by the real projector from the log."""
    store = ReadStore(tmp_path / "second-node.duckdb")
    projector = Projector(store)

    def caught_up_store() -> ReadStore:
        catch_up(module_app.state.crm, projector)
        return store

    yield caught_up_store
    store.close()


def test_an_order_that_puts_a_customer_in_a_segment_starts_its_automation_once_per_entry(
        module_app, shop, smtp, marketing, clock, second_node, tmp_path, caplog):
    crm, sink = module_app.state.crm, smtp[0]
    segment = _ok(shop.post("/v1/segments", {"name": "Loyal", "rule": LOYAL}))["id"]
    thanks = approved_template(shop, {"name": "Loyal", "channel": "email",
                                      "subject": "You are one of us, {{ customer.first_name }}",
                                      "text": "Thank you for coming back."})
    automation = _ok(shop.post("/v1/automations", {
        "name": "Welcome to Loyal", "trigger": {"kind": "segment_entry", "segment_id": segment},
        "steps": [{"kind": "send", "template_id": thanks}, {"kind": "add_tag", "tag": "loyal"}],
        "exit": ["unsubscribed"]}))["id"]
    _ok(shop.post(f"/v1/automations/{automation}/activate", {}))
    ann = customer(shop, "Ann Loyal", "ann@loyal.example")
    bo = customer(shop, "Bo Small", "bo@loyal.example")
    for who, order_id, amount in ((ann, "A-1", "150.00"), (bo, "B-1", "20.00")):
        _ok(shop.post(f"/v1/customers/{who}/orders", {"order_id": order_id, "amount": amount,
                                                      "currency": "GBP", "item_count": 1}))
    caught_up(module_app)

    # Two query nodes saw Ann enter. The second records while the first beats it to the store:
    # its batch loses the race, is retried one by one, finds the entry recorded and skips it.
    first = SegmentEntries(crm, module_app.state.store)
    second = SegmentEntries(crm, second_node())
    decide = second._decide

    def beaten_to_it(key, group, loaded):
        decided = decide(key, group, loaded)
        if first.recorded == 0:
            first.tick(clock())
        return decided

    second._decide = beaten_to_it
    with caplog.at_level(logging.INFO, logger="crm.segment-entries"):
        second.tick(clock())
    assert "recording them one by one" in caplog.text     # the batch lost, then each skipped
    assert membership_events(crm, segment, ann) == ["SegmentMembership.Created",
                                                    "SegmentMembership.Entered"]
    assert membership_events(crm, segment, bo) == []
    assert first.recorded == 1 and second.recorded == 0
    first.tick(clock())
    second.tick(clock())          # nothing new on either node
    assert first.recorded + second.recorded == 1
    membership = crm.repository.get(membership_id(UUID(segment), UUID(ann)))
    assert membership.is_member and membership.tenant_id == shop.id
    # Webhooks may subscribe to entries and exits; the stream's opening event is not sent.
    assert matches(["*"], "SegmentMembership.Entered") and matches(["*"], "SegmentMembership.Left")
    assert not matches(["*"], "SegmentMembership.Created")

    # The automation worker starts one run, which queues the email the sender delivers.
    automations(module_app, marketing, clock, shop).run_until_idle()
    automations(module_app, marketing, clock, shop).run_until_idle()   # a second runner: no-op
    worker(module_app, marketing, clock, shop).run_until_idle()
    [mail] = sink.to("ann@loyal.example")
    assert mail.message["Subject"] == "You are one of us, Ann"
    assert sink.to("bo@loyal.example") == []
    [run] = runs_of(shop, automation)
    assert (run["customer_id"], run["status"]) == (ann, "completed")
    assert run["trigger_event"] == "SegmentMembership.Entered"
    assert _ok(shop.get(f"/v1/automations/{automation}"))["trigger"] == {
        "kind": "segment_entry", "segment_id": segment}
    # The timeline shows the entry once: from the membership tables, not from the event.
    timeline = _ok(shop.get(f"/v1/customers/{ann}/timeline", params={"kind": "segment"}))["items"]
    assert [e["summary"] for e in timeline] == ["Entered segment Loyal"]

    # Ann lapses (leaves), then comes back (enters again): a second run, a second email.
    _ok(shop.post(f"/v1/customers/{ann}/tags", {"add": ["lapsed"]}))
    caught_up(module_app)
    first.tick(clock())
    second_node()
    second.tick(clock())          # saw the same exit: already recorded
    assert membership_events(crm, segment, ann)[-1] == "SegmentMembership.Left"
    automations(module_app, marketing, clock, shop).run_until_idle()
    assert len(runs_of(shop, automation)) == 1                     # leaving starts nothing
    _ok(shop.post(f"/v1/customers/{ann}/tags", {"remove": ["lapsed"]}))
    caught_up(module_app)
    second_node()
    second.tick(clock())          # this time the second node is first
    first.tick(clock())
    assert membership_events(crm, segment, ann) == [
        "SegmentMembership.Created", "SegmentMembership.Entered", "SegmentMembership.Left",
        "SegmentMembership.Entered"]
    assert first.recorded + second.recorded == 3
    automations(module_app, marketing, clock, shop).run_until_idle()
    worker(module_app, marketing, clock, shop).run_until_idle()
    assert len(sink.to("ann@loyal.example")) == 2
    runs = runs_of(shop, automation)
    assert [r["customer_id"] for r in runs] == [ann, ann]
    assert len({r["id"] for r in runs}) == 2
    assert {r["status"] for r in runs} == {"completed"}

    # A node that joins later replays the history one event at a time: it sees Ann enter,
    # leave and enter again, all of which the membership already holds. It records nothing.
    late = ReadStore(tmp_path / "late-node.duckdb")
    try:
        projector = Projector(late)
        for envelope in read_log(crm, 0, limit=100_000):
            projector.apply([envelope], envelope.position)
        replayed = SegmentEntries(crm, late)
        replayed.tick(clock())
        assert replayed.recorded == 0
        assert len(membership_events(crm, segment, ann)) == 4
    finally:
        late.close()


def test_a_segment_entry_before_activation_starts_nothing(module_app, shop, marketing, clock):
    crm = module_app.state.crm
    segment = _ok(shop.post("/v1/segments", {"name": "Early", "rule": LOYAL}))["id"]
    automation = _ok(shop.post("/v1/automations", {
        "name": "Late", "trigger": {"kind": "segment_entry", "segment_id": segment},
        "steps": [{"kind": "add_tag", "tag": "late"}]}))["id"]
    cy = shop.register("Cy Early", None)["id"]
    _ok(shop.post(f"/v1/customers/{cy}/orders", {"order_id": "C-1", "amount": "500.00",
                                                 "currency": "GBP", "item_count": 1}))
    caught_up(module_app)
    # Activated before the node's job got round to recording the entry: the entry is older.
    _ok(shop.post(f"/v1/automations/{automation}/activate", {}))
    SegmentEntries(crm, module_app.state.store).tick(clock())
    assert membership_events(crm, segment, cy)[-1] == "SegmentMembership.Entered"
    automations(module_app, marketing, clock, shop).run_until_idle()
    assert runs_of(shop, automation) == []


def test_a_segment_entry_trigger_names_a_live_segment_of_the_tenant(module_app, shop, make_tenant):
    other = make_tenant("Someone else's shop")
    theirs = _ok(other.post("/v1/segments", {"name": "Theirs", "kind": "static"}))["id"]
    mine = _ok(shop.post("/v1/segments", {"name": "Mine", "kind": "static"}))["id"]
    gone = _ok(shop.post("/v1/segments", {"name": "Gone", "kind": "static"}))["id"]
    _ok(shop.client.delete(f"/v1/segments/{gone}", headers=shop.headers))
    steps = [{"kind": "add_tag", "tag": "x"}]
    before = head(module_app)
    for segment_id in (theirs, gone, "not-an-id", None):
        body = {"name": "x", "trigger": {"kind": "segment_entry", "segment_id": segment_id},
                "steps": steps}
        problem = assert_problem(shop.post("/v1/automations", body), 422, "trigger.segment_id")
        assert "segment" in problem["errors"][0]["reason"]
    assert head(module_app) == before
    created = _ok(shop.post("/v1/automations", {
        "name": "ok", "trigger": {"kind": "segment_entry", "segment_id": mine}, "steps": steps}))
    # Changing it to another tenant's segment is refused the same way.
    change = {"trigger": {"kind": "segment_entry", "segment_id": theirs}, "steps": steps}
    assert_problem(shop.client.put(f"/v1/automations/{created['id']}", json=change,
                                   headers=shop.headers), 422, "trigger.segment_id")


def test_a_membership_records_only_news():
    """The aggregate's rule, without a store: a state it is in, or a moment it has passed,
    is no news."""
    from datetime import datetime, timedelta, timezone
    from uuid import uuid4

    from domain.base import Meta
    from domain.membership import SegmentMembership

    meta, t0 = Meta(tenant_id="t", actor="segment rules"), datetime(2026, 1, 1, tzinfo=timezone.utc)
    segment, customer = uuid4(), uuid4()
    membership = SegmentMembership.track(meta, segment, customer)
    assert membership.id == membership_id(segment, customer) == SegmentMembership.track(
        meta, segment, customer).id
    assert membership.change(meta, True, t0, "segment rules")
    assert not membership.change(meta, True, t0 + timedelta(seconds=5), "segment rules")  # a member
    assert membership.change(meta, False, t0 + timedelta(seconds=10), "segment rules")
    assert not membership.change(meta, True, t0 + timedelta(seconds=1), "segment rules")  # stale
    assert not membership.change(meta, True, t0 + timedelta(seconds=10), "segment rules")  # same
    assert membership.change(meta, True, t0 + timedelta(seconds=11), "key Mia")
    assert [type(e).__name__ for e in membership.collect_events()] == [
        "Created", "Entered", "Left", "Entered"]
    assert (membership.is_member, membership.entries, membership.version) == (True, 2, 4)
