"""The event policies without Kafka: the embedded mode runs them by following the log, and the
runner's saved position makes a restart neither redo nor skip an event."""

from __future__ import annotations

import threading
from uuid import UUID, uuid5

import pytest

from commands.application import Crm
from domain.task import Task
from tests.support import wait_until
from workers.automation import FOLLOW_UP, RUNNER, log_runner
from workers.policy_runner import PolicyPosition, PolicyRunner
from workers.projector import read_log


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def events(crm: Crm, kind: str | None = None) -> list:
    found, position = [], 0
    while batch := read_log(crm, position):
        found += [e for e in batch if kind is None or e.type == kind]
        position = batch[-1].position
    return found


def head(crm: Crm) -> int:
    return crm.recorder.max_notification_id() or 0


def stop_embedded(stopping: threading.Event) -> None:
    stopping.set()
    for thread in threading.enumerate():
        if thread.name.startswith("embedded-"):
            thread.join(timeout=30)
            assert not thread.is_alive(), f"{thread.name} did not stop"


def lose_a_deal(tenant, customer_id: str, title: str) -> dict:
    deal = ok(tenant.post("/v1/opportunities", {"customer_id": customer_id, "title": title,
                                                "value": "300", "currency": "GBP",
                                                "owner": "sam"}), 201)
    return ok(tenant.post(f"/v1/opportunities/{deal['id']}/lose", {"reason": "budget"}))


def test_the_embedded_mode_runs_the_event_policies_without_kafka(app, client, tenant, settings):
    from workers.marketing import start_embedded

    assert not settings.kafka_bootstrap
    crm = app.state.crm
    stopping = start_embedded(settings, app.state.store)
    try:
        customer = tenant.register()
        # A lost deal gets its follow-up task.
        lost = lose_a_deal(tenant, customer["id"], "Wedding set")
        [lost_event] = [e for e in events(crm, "Opportunity.Lost") if e.stream == lost["id"]]
        follow_up = uuid5(FOLLOW_UP, lost_event.event_id)
        wait_until(lambda: follow_up in {UUID(e.stream) for e in events(crm, "Task.Created")},
                   "the lost deal's follow-up task")
        task = crm.repository.get(follow_up)
        assert isinstance(task, Task) and task.assignee == "sam"
        assert str(task.opportunity_id) == lost["id"]

        # A move rule: a quote accepted moves the deal to negotiation.
        pipeline = ok(tenant.post("/v1/pipelines", {"name": "Wholesale", "stages": [
            {"name": "Enquiry"}, {"name": "Samples"}, {"name": "Negotiation"}]}), 201)
        ok(tenant.client.put(f"/v1/pipelines/{pipeline['id']}/automation", headers=tenant.headers,
                             json={"move_rules": [{"when": "quote_accepted",
                                                   "to_stage": "negotiation"}]}))
        deal = ok(tenant.post("/v1/opportunities", {
            "customer_id": customer["id"], "title": "Café mugs", "value": "100", "currency": "GBP",
            "pipeline_id": pipeline["id"]}), 201)
        quote = ok(tenant.post(f"/v1/opportunities/{deal['id']}/quotes",
                               {"valid_until": "2099-01-01"}), 201)
        ok(tenant.post(f"/v1/quotes/{quote['id']}/send", {}))
        ok(tenant.post(f"/v1/quotes/{quote['id']}/accept", {}))
        wait_until(lambda: crm.repository.get(UUID(deal["id"])).stage == "negotiation",
                   "the move rule to move the deal")
        moved = crm.repository.get(UUID(deal["id"]))
        view = ok(tenant.get(f"/v1/opportunities/{deal['id']}",
                             token=f"{moved.id.hex}.{moved.version}"))
        assert view["stage"] == "negotiation"

        # Everything handled: the runner's saved position reaches the end of the log.
        end = head(crm)
        wait_until(lambda: PolicyPosition(crm, RUNNER).load() >= end, "the position to be saved")
    finally:
        stop_embedded(stopping)

    # A restart resumes after the last handled event: it redoes nothing ...
    tasks_before = len(events(crm, "Task.Created"))
    restarted = log_runner(crm)
    assert restarted.position == head(crm)
    assert restarted.run_until_idle() == 0
    # ... and skips nothing: a deal lost while no runner ran gets its task on the next run.
    lost_meanwhile = lose_a_deal(tenant, customer["id"], "Tea set")
    after = restarted.run_until_idle()
    assert after == head(crm) - end  # just the events written since, each once
    [created] = events(crm, "Task.Created")[tasks_before:]
    assert created.data["opportunity_id"] == lost_meanwhile["id"]


def test_a_restarted_runner_resumes_after_the_last_event_it_handled(client, tenant, settings):
    crm = client.app.state.crm
    customer = tenant.register()
    handled: list[int] = []
    failing: set[int] = set()

    def record(envelope) -> None:
        if envelope.position in failing:
            raise RuntimeError("the store is down")
        handled.append(envelope.position)

    first = PolicyRunner(crm, record, "position-test")
    assert first.position == 0  # a runner that never ran starts at the beginning of the log
    first.run_until_idle()
    assert handled == [e.position for e in events(crm)]
    saved = PolicyPosition(crm, "position-test").load()
    assert saved == head(crm) == handled[-1]

    lose_a_deal(tenant, customer["id"], "Wedding set")  # new events: open, lose
    new = [e.position for e in events(crm) if e.position > saved]
    failing.add(new[1])  # the second new event fails
    second = PolicyRunner(crm, record, "position-test")
    assert second.position == saved
    with pytest.raises(RuntimeError):
        second.run_until_idle()
    # What was handled before the failure is saved; the failing event is not skipped.
    assert PolicyPosition(crm, "position-test").load() == new[0]
    failing.clear()
    third = PolicyRunner(crm, record, "position-test")
    assert third.run_until_idle() == len(new) - 1
    assert handled == [e.position for e in events(crm)]  # each event once, in log order
    assert PolicyPosition(crm, "position-test").load() == head(crm)

    # The position never moves back (a slower twin runner saving an older position).
    PolicyPosition(crm, "position-test").save(1)
    assert PolicyPosition(crm, "position-test").load() == head(crm)
    assert PolicyPosition(crm, "another runner").load() == 0  # one row per runner


def test_the_runner_follows_the_log_in_a_thread_and_stops_cleanly(client, tenant):
    crm = client.app.state.crm
    handled: list[int] = []
    runner = PolicyRunner(crm, lambda e: handled.append(e.position), "thread-test",
                          poll_interval=0.05)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        customer = tenant.register()
        wait_until(lambda: handled and handled[-1] >= head(crm), "the runner to see the customer")
        lose_a_deal(tenant, customer["id"], "Vases")
        wait_until(lambda: handled[-1] >= head(crm), "the runner to see the lost deal")
    finally:
        runner.stopping.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert handled == [e.position for e in events(crm)]
    assert PolicyPosition(crm, "thread-test").load() == handled[-1]


def test_crm_worker_automation_without_kafka_follows_the_log(client, tenant, settings, tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys

    crm = client.app.state.crm
    env = {**os.environ, "CRM_EVENT_STORE": settings.event_store_url,
           "CRM_DATA_DIR": str(tmp_path / "worker")}
    env.pop("CRM_KAFKA_BOOTSTRAP", None)
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "api.cli", "worker", "automation"],
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        customer = tenant.register()
        lost = lose_a_deal(tenant, customer["id"], "Wedding set")
        wait_until(lambda: [e for e in events(crm, "Task.Created")
                            if e.data["opportunity_id"] == lost["id"]],
                   "the worker to create the follow-up task", seconds=60)
        assert (tmp_path / "worker" / "automation.alive").exists()
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert code == 0, log.read_text()
    assert [line["event"] for line in lines if line["event"].startswith(("automation.", "policies."))
            ][:2] == ["automation.started", "policies.started"]
    assert lines[-1]["event"] == "policies.stopped"
    assert PolicyPosition(crm, RUNNER).load() == lines[-1]["position"] > 0


def test_a_runner_told_to_start_at_the_end_leaves_the_past_alone(client, tenant):
    crm = client.app.state.crm
    customer = tenant.register()
    lose_a_deal(tenant, customer["id"], "Old loss")
    handled: list[int] = []
    end = head(crm)
    runner = PolicyRunner(crm, lambda e: handled.append(e.position), "end-test", start="end")
    assert runner.position == end and runner.run_until_idle() == 0
    lose_a_deal(tenant, customer["id"], "New loss")
    assert runner.run_until_idle() == head(crm) - end and handled[0] == end + 1
    # Once it has a position, ``start`` no longer matters.
    again = PolicyRunner(crm, lambda e: None, "end-test", start="end")
    assert again.position == head(crm)
    with pytest.raises(ValueError):
        PolicyRunner(crm, lambda e: None, "end-test", start="yesterday")
