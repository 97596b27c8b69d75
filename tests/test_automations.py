"""Drip sequences and behavioural triggers through HTTP, driven through time by an injected
clock: step 2 reaches only those who did not click step 1, opted-out customers receive
nothing, order triggers with conditions, tasks, tags and signed webhook calls, and every
run's progress per customer."""

from __future__ import annotations

import hashlib
import hmac
import json
from uuid import UUID
import pytest

from tests.marketing_support import HttpRecorder, caught_up
from tests.support import assert_problem
from tests.test_sending import (approved_template, clock, customer, local, marketing,  # noqa: F401
                                shop, smtp, worker)
from workers.drip import AutomationRuns
from workers.log_worker import LogWorker


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


def automations(module_app, marketing, clock, shop) -> LogWorker:
    crm = module_app.state.crm
    return LogWorker(crm, [AutomationRuns(crm, marketing, tenants={shop.id})], clock)


def runs_by_customer(shop, automation_id: str) -> dict[str, dict]:
    caught_up(shop.client.app)
    items = _ok(shop.get(f"/v1/automations/{automation_id}/runs"))["items"]
    return {run["customer_id"]: run for run in items}


WELCOME_TRIGGER = {"kind": "event", "event_type": "Customer.ConsentRecorded",
                   "conditions": [{"field": "channel", "op": "eq", "value": "email"},
                                  {"field": "status", "op": "eq", "value": "opted_in"}]}


def test_step_two_goes_only_to_those_who_did_not_click_step_one(module_app, shop, smtp, marketing,
                                                                 clock):
    sink = smtp[0]
    welcome = approved_template(shop, {"name": "Welcome", "channel": "email",
                                       "subject": "Welcome, {{ customer.first_name }}",
                                       "text": "Start at https://shop.example/welcome"})
    nudge = approved_template(shop, {"name": "Nudge", "channel": "email",
                                     "subject": "Still looking, {{ customer.first_name }}?",
                                     "text": "New this week: https://shop.example/new"})
    early = customer(shop, "Eve Early", "eve@drip.example")      # opted in before activation
    created = _ok(shop.post("/v1/automations", {
        "name": "Welcome series", "trigger": WELCOME_TRIGGER,
        "steps": [{"kind": "send", "template_id": welcome}, {"kind": "wait", "days": 2},
                  {"kind": "send", "template_id": nudge}, {"kind": "add_tag", "tag": "welcomed"}],
        "exit": ["clicked"]}))
    automation = created["id"]
    _ok(shop.post(f"/v1/automations/{automation}/activate", {}))
    ann = customer(shop, "Ann Clicker", "ann@drip.example")
    bo = customer(shop, "Bo Ignores", "bo@drip.example")
    dee = customer(shop, "Dee Leaves", "dee@drip.example")
    sms_only = customer(shop, "Sam Sms", None, phone="+447911123458", consent=("sms",))

    runner = automations(module_app, marketing, clock, shop)
    sender = worker(module_app, marketing, clock, shop)
    runner.run_until_idle()
    sender.run_until_idle()
    assert [len(sink.to(f"{who}@drip.example")) for who in ("ann", "bo", "dee", "eve")] == [1, 1, 1, 0]
    [mail] = sink.to("ann@drip.example")
    assert mail.message["Subject"] == "Welcome, Ann"
    started = runs_by_customer(shop, automation)
    assert set(started) == {ann, bo, dee}                 # not Eve (before), not Sam (sms)
    assert {run["status"] for run in started.values()} == {"waiting"}
    assert all(run["step"] == 1 and run["steps_total"] == 4 for run in started.values())

    # Ann clicks step 1; Dee opts out of email.
    click = mail.part("html").split('href="')[1].split('"')[0]
    assert shop.client.get(local(click), follow_redirects=False).status_code == 302
    _ok(shop.post(f"/v1/customers/{dee}/consent", {"channel": "email", "status": "opted_out",
                                                   "source": "reply"}))

    clock.advance(days=1)                                   # half way: nothing more yet
    runner.run_until_idle()
    sender.run_until_idle()
    assert [len(sink.to(f"{who}@drip.example")) for who in ("ann", "bo", "dee")] == [1, 1, 1]

    clock.advance(days=1, minutes=1)                        # the wait is over
    runner.run_until_idle()
    sender.run_until_idle()
    assert len(sink.to("ann@drip.example")) == 1            # clicked step 1: left the sequence
    [_, second] = sink.to("bo@drip.example")
    assert second.message["Subject"] == "Still looking, Bo?"
    assert len(sink.to("dee@drip.example")) == 1            # opted out: suppressed, never sent

    runs = runs_by_customer(shop, automation)
    assert (runs[ann]["status"], runs[ann]["exit_reason"], runs[ann]["step"]) == ("exited", "clicked", 1)
    assert (runs[bo]["status"], runs[bo]["step"]) == ("completed", 4)
    assert runs[dee]["status"] == "completed"
    detail = _ok(shop.get(f"/v1/automations/runs/{runs[bo]['id']}"))
    assert [(s["index"], s["kind"]) for s in detail["steps_done"]] == [
        (0, "send"), (1, "wait"), (2, "send"), (3, "add_tag")]
    assert "welcomed" in _ok(shop.get(f"/v1/customers/{bo}"))["tags"]
    mine = _ok(shop.get(f"/v1/customers/{ann}/automation-runs"))["items"]
    assert [(r["automation_id"], r["status"]) for r in mine] == [(automation, "exited")]
    timeline = _ok(shop.get(f"/v1/customers/{ann}/timeline", params={"kind": "automation"}))["items"]
    assert timeline[0]["summary"] == "Left an automation: clicked"
    overview = _ok(shop.get(f"/v1/automations/{automation}"))
    assert overview["runs"]["completed"] == 2 and overview["runs"]["exited"] == 1

    steps = {s["step"]: {stage["name"]: stage["count"] for stage in s["stages"]}
             for s in _ok(shop.get(f"/v1/automations/{automation}/analytics"))}
    assert steps["0"]["sent"] == 3 and steps["0"]["clicked"] == 1
    assert steps["2"]["audience"] == 2 and steps["2"]["sent"] == 1   # Dee's was suppressed

    # A restarted runner finds nothing left to do.
    assert automations(module_app, marketing, clock, shop).run_until_idle() == 0


def test_an_order_trigger_with_conditions_tasks_and_a_signed_webhook_call(module_app, shop, smtp,
                                                                         marketing, clock):
    recorder = HttpRecorder()
    url = recorder.start()
    try:
        hook = _ok(shop.post("/v1/webhooks", {"url": url + "/erp", "event_types": ["Opportunity.Won"]}))
        thanks = approved_template(shop, {"name": "Thanks", "channel": "email",
                                          "subject": "Thank you for order {{ order.id }}",
                                          "text": "{{ order.amount }} {{ order.currency }}, "
                                                  "{{ order.item_count }} item(s)."})
        automation = _ok(shop.post("/v1/automations", {
            "name": "Big order thanks",
            "trigger": {"kind": "event", "event_type": "Customer.OrderRecorded",
                        "conditions": [{"field": "amount", "op": "gte", "value": "100"}]},
            "steps": [{"kind": "send", "template_id": thanks},
                      {"kind": "create_task", "title": "Hand-written card", "due_in_days": 3,
                       "assignee": "mia"},
                      {"kind": "call_webhook", "subscription_id": hook["id"]}]}))["id"]
        _ok(shop.post(f"/v1/automations/{automation}/activate", {}))
        big = customer(shop, "Big Spender", "big@drip.example")
        small = customer(shop, "Small Spender", "small@drip.example")
        for who, order_id, amount in ((big, "B-1", "150.00"), (small, "S-1", "20.00")):
            _ok(shop.post(f"/v1/customers/{who}/orders", {"order_id": order_id, "amount": amount,
                                                          "currency": "GBP", "item_count": 3}))
        automations(module_app, marketing, clock, shop).run_until_idle()
        worker(module_app, marketing, clock, shop).run_until_idle()

        [mail] = smtp[0].to("big@drip.example")
        assert mail.message["Subject"] == "Thank you for order B-1"
        assert mail.part("plain").startswith("150.00 GBP, 3 item(s).")
        assert smtp[0].to("small@drip.example") == []
        runs = runs_by_customer(shop, automation)
        assert list(runs) == [big] and runs[big]["status"] == "completed"
        tasks = _ok(shop.get("/v1/tasks", params={"customer_id": big}))["items"]
        assert [(t["title"], t["assignee"]) for t in tasks] == [("Hand-written card", "mia")]
        [call] = recorder.requests
        body = json.loads(call.body)
        assert body["type"] == "AutomationRun.Step" and body["customer_id"] == big
        assert body["trigger"]["data"]["order_id"] == "B-1"
        timestamp = call.headers["webhook-timestamp"]
        expected = "v1=" + hmac.new(hook["secret"].encode(), timestamp.encode() + b"." + call.body,
                                    hashlib.sha256).hexdigest()
        assert call.headers["webhook-signature"] == expected
        assert call.headers["idempotency-key"] == call.headers["webhook-id"]
    finally:
        recorder.stop()


@pytest.mark.parametrize("body, field", [
    ({"trigger": {"kind": "segment_entry"}}, "trigger.segment_id"),
    ({"trigger": {"kind": "segment_entry", "segment_id": "00000000-0000-0000-0000-000000000001"}},
     "trigger.segment_id"),
    ({"trigger": {"kind": "event", "event_type": "nothing"}}, "trigger.event_type"),
    ({"trigger": {"kind": "event", "event_type": "Customer.OrderRecorded",
                  "conditions": [{"field": "amount", "op": "about"}]}}, "trigger.conditions[0]"),
    ({"steps": [{"kind": "wait", "days": 0}]}, "steps[0]"),
    ({"steps": [{"kind": "teleport"}]}, "steps[0].kind"),
    ({"steps": [{"kind": "send", "template_id": "00000000-0000-0000-0000-000000000001"}]},
     "steps[0].template_id"),
    ({"exit": ["bored"]}, "exit[0]"),
])
def test_bad_automations_are_refused(shop, body, field):
    base = {"name": "x", "trigger": WELCOME_TRIGGER, "steps": [{"kind": "add_tag", "tag": "x"}]}
    assert_problem(shop.post("/v1/automations", {**base, **body}), 422, field)


def test_a_draft_template_cannot_be_sent_and_an_active_automation_cannot_change(shop):
    draft = _ok(shop.post("/v1/templates", {"name": "d", "channel": "email", "subject": "s",
                                            "text": "t"}))["id"]
    steps = [{"kind": "send", "template_id": draft}]
    assert_problem(shop.post("/v1/automations", {"name": "x", "trigger": WELCOME_TRIGGER,
                                                 "steps": steps}), 422, "steps[0].template_version")
    created = _ok(shop.post("/v1/automations", {"name": "x", "trigger": WELCOME_TRIGGER,
                                                "steps": [{"kind": "add_tag", "tag": "a"}]}))
    _ok(shop.post(f"/v1/automations/{created['id']}/activate", {}))
    change = {"trigger": WELCOME_TRIGGER, "steps": [{"kind": "add_tag", "tag": "b"}]}
    assert_problem(shop.client.put(f"/v1/automations/{created['id']}", json=change,
                                   headers=shop.headers), 409)
    _ok(shop.post(f"/v1/automations/{created['id']}/pause", {}))
    _ok(shop.client.put(f"/v1/automations/{created['id']}", json=change, headers=shop.headers))


def test_a_new_deal_is_moved_on_by_an_automation_once(module_app, shop, marketing, clock):
    automation = _ok(shop.post("/v1/automations", {
        "name": "Qualify inbound deals",
        "trigger": {"kind": "event", "event_type": "Opportunity.Opened",
                    "conditions": [{"field": "stage", "op": "eq", "value": "lead"},
                                   {"field": "value", "op": "gte", "value": 500}]},
        "steps": [{"kind": "move_deal_stage", "stage": "qualified"},
                  {"kind": "add_tag", "tag": "big-deal"}]}))["id"]
    _ok(shop.post(f"/v1/automations/{automation}/activate", {}))
    kim = shop.register("Kim Deal", None)["id"]
    big = _ok(shop.post("/v1/opportunities", {"customer_id": kim, "title": "Wedding set",
                                              "value": "900.00", "currency": "GBP"}))["id"]
    small = _ok(shop.post("/v1/opportunities", {"customer_id": kim, "title": "Mug",
                                                "value": "20.00", "currency": "GBP"}))["id"]
    automations(module_app, marketing, clock, shop).run_until_idle()
    automations(module_app, marketing, clock, shop).run_until_idle()   # a second runner: no-op
    caught_up(shop.client.app)
    assert _ok(shop.get(f"/v1/opportunities/{big}"))["stage"] == "qualified"
    assert _ok(shop.get(f"/v1/opportunities/{small}"))["stage"] == "lead"
    moves = [e for e in module_app.state.crm.events.get(UUID(big))
             if type(e).__qualname__ == "Opportunity.StageMoved"]
    assert len(moves) == 1
    assert "big-deal" in _ok(shop.get(f"/v1/customers/{kim}"))["tags"]
    [run] = runs_by_customer(shop, automation).values()
    assert run["status"] == "completed" and run["trigger_event"] == "Opportunity.Opened"
