"""A sender restarted from its checkpoint knows exactly what one that read the whole log knows,
and reads only the log after the checkpoint; a checkpoint that does not fit is not used."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from commands.application import Crm
from commands.marketing_settings import MarketingSettings
from domain.base import Meta
from domain.message import Message
from workers.checkpoints import Checkpoints
from workers.log_worker import LogWorker
from workers.sender import Sender

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def crm(event_store_url):
    crm = Crm(event_store_url)
    yield crm
    crm.close()


def _sender_worker(crm: Crm, tenants: set[str] | None = None) -> LogWorker:
    return LogWorker(crm, [Sender(crm, MarketingSettings(), b"secret", {}, tenants=tenants)],
                     clock=lambda: NOW)


def _queue(crm: Crm, meta: Meta, count: int, hours: int) -> list[Message]:
    campaign = uuid4()
    messages = [Message.queue(meta, customer_id=uuid4(), channel="email", step="campaign",
                              not_before=NOW + timedelta(hours=hours, minutes=i),
                              campaign_id=campaign) for i in range(count)]
    crm.save(*messages)
    return messages


def _finish(crm: Crm, meta: Meta, messages: list[Message], retry: bool = False) -> None:
    for message in messages:
        message.start(meta, "w", message.due_at, timedelta(minutes=5))
        if retry:
            message.failed(meta, "421 try later", NOW + timedelta(hours=2))
        else:
            message.sent(meta, "ada@example.com", None)
    crm.save(*messages)


def _known(worker: LogWorker) -> tuple[dict, dict]:
    sender = worker.jobs[0]
    return dict(sender.pending.logged), dict(sender.pending.times)


def test_a_restart_reads_only_the_log_after_the_checkpoint_and_knows_the_same(crm):
    meta = Meta(str(uuid4()), "test")
    first = _queue(crm, meta, 5, hours=1)
    _finish(crm, meta, first[:2])
    _finish(crm, meta, first[2:3], retry=True)
    running = _sender_worker(crm)
    running.catch_up()
    assert running.save_checkpoint()
    checkpoint_at = running.position
    later = _queue(crm, meta, 3, hours=3)  # after the checkpoint: queued, and one finished
    _finish(crm, meta, first[3:4] + later[:1])
    head = crm.recorder.max_notification_id()

    restarted = _sender_worker(crm)
    assert restarted.catch_up() == head - checkpoint_at
    whole_log = _sender_worker(crm)
    whole_log.checkpoints = None
    assert whole_log.catch_up() == head
    assert _known(restarted) == _known(whole_log)
    assert set(restarted.jobs[0].pending.logged) == {first[2].id, first[4].id, later[1].id,
                                                  later[2].id}
    assert restarted.jobs[0].pending.logged[first[2].id] == NOW + timedelta(hours=2)  # its retry


def test_work_in_hand_is_not_in_the_checkpoint_only_what_the_log_says(crm):
    meta = Meta(str(uuid4()), "test")
    messages = _queue(crm, meta, 2, hours=-1)  # due already
    running = _sender_worker(crm)
    running.catch_up()
    assert running.jobs[0].due(NOW) == [m.id for m in messages]  # handed out: not pending now
    running.save_checkpoint()
    restarted = _sender_worker(crm)
    restarted.catch_up()
    assert restarted.jobs[0].due(NOW) == [m.id for m in messages]  # nothing recorded: still due


def test_a_checkpoint_of_another_format_share_or_beyond_the_log_is_not_used(crm, monkeypatch):
    meta = Meta(str(uuid4()), "test")
    _queue(crm, meta, 3, hours=1)
    running = _sender_worker(crm)
    running.catch_up()
    running.save_checkpoint()
    head = crm.recorder.max_notification_id()
    assert _sender_worker(crm).catch_up() == 0

    dedicated = _sender_worker(crm, tenants={meta.tenant_id})  # another share, another row
    assert dedicated.catch_up() == head and len(dedicated.jobs[0].pending.logged) == 3

    monkeypatch.setattr(Sender, "checkpoint_format", 2)  # the code changed what it keeps
    assert _sender_worker(crm).catch_up() == head
    monkeypatch.undo()

    name, format = running.checkpoint  # events restored from a backup older than the row
    Checkpoints(crm).save(name, format, head + 100, [])
    after_restore = _sender_worker(crm)
    assert after_restore.catch_up() == head
    assert after_restore.save_checkpoint()  # the stale row is replaced, not kept for later
    assert Checkpoints(crm).load(name, format)[0] == head


def test_the_row_only_moves_forward(crm):
    checkpoints = Checkpoints(crm)
    checkpoints.save("sender", "sender:1", 10, [["a", "b"]])
    checkpoints.save("sender", "sender:1", 7, [])  # a worker further behind
    assert checkpoints.load("sender", "sender:1") == (10, [["a", "b"]])
    checkpoints.save("sender", "sender:1", 12, [])
    assert checkpoints.load("sender", "sender:1") == (12, [])
    checkpoints.save("sender", "sender:2", 3, [])  # new code's first save replaces the old format
    assert checkpoints.load("sender", "sender:1") is None
    assert checkpoints.load("sender", "sender:2") == (3, [])


def test_a_stopping_worker_saves_its_checkpoint(crm):
    meta = Meta(str(uuid4()), "test")
    _queue(crm, meta, 2, hours=1)
    worker = _sender_worker(crm)
    stopping = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stopping,))
    thread.start()
    head = crm.recorder.max_notification_id()
    while worker.position < head:  # its first round read the log
        stopping.wait(0.01)
    stopping.set()
    thread.join(10)
    name, format = worker.checkpoint
    position, state = Checkpoints(crm).load(name, format)
    assert position == head and len(state[0]) == 2  # one state per job


# -- the scheduler (campaign launches and automation runs) and the webhooks worker ---------------

def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _canonical(state):
    """A job's state with its lists of [key, value] pairs sorted: a restored job holds its
    items in the checkpoint's order, a job that read the log in the log's."""
    if isinstance(state, dict):
        return {name: _canonical(part) for name, part in state.items()}
    return sorted(state, key=lambda pair: pair[0])


def _knows(worker: LogWorker) -> list:
    return [(_canonical(job.state()), dict(job.pending.times if hasattr(job, "pending")
                                           else job.waiting.times)) for job in worker.jobs]


def test_the_scheduler_and_webhooks_restart_from_checkpoints_knowing_what_the_log_says(
        app, tenant):
    from workers.drip import AutomationRuns
    from workers.scheduler import SchedulerWorker
    from workers.webhooks import WebhookDeliveries
    marketing = app.state.marketing = MarketingSettings(webhooks_allow_private=True)
    app.state.clock = lambda: NOW  # the routes judge "in the future" by the workers' clock
    crm = app.state.crm

    def scheduler() -> SchedulerWorker:
        return SchedulerWorker(crm, lambda: NOW, extra_jobs=[
            AutomationRuns(crm, marketing, tenants={tenant.id})])

    def webhooks() -> LogWorker:
        return LogWorker(crm, [WebhookDeliveries(crm, marketing, tenants={tenant.id})],
                         clock=lambda: NOW)

    def order(customer: str, order_id: str) -> None:
        _ok(tenant.post(f"/v1/customers/{customer}/orders",
                        {"order_id": order_id, "amount": "40.00", "currency": "GBP",
                         "item_count": 1}))

    def campaign(days: int) -> str:
        created = _ok(tenant.post("/v1/campaigns", {"name": "Spring", "channel": "email",
                                                    "subject": "Hi", "body": "Spring is here"}))
        _ok(tenant.post(f"/v1/campaigns/{created['id']}/schedule",
                        {"scheduled_for": (NOW + timedelta(days=days)).isoformat()}))
        return created["id"]

    ada, bo = tenant.register("Ada", "ada@x.example")["id"], tenant.register("Bo", None)["id"]
    hooks = [_ok(tenant.post("/v1/webhooks", {"url": f"http://127.0.0.1:9/{n}",
                                              "event_types": ["Customer.OrderRecorded"]}))["id"]
             for n in range(2)]
    thanks, paused = [_ok(tenant.post("/v1/automations", {
        "name": name, "trigger": {"kind": "event", "event_type": "Customer.OrderRecorded",
                                  "conditions": []},
        "steps": [{"kind": "create_task", "title": "Say thanks"}]}))["id"] for name in "AB"]
    for automation in (thanks, paused):
        _ok(tenant.post(f"/v1/automations/{automation}/activate", {}))
    launches = [campaign(days) for days in (1, 2, 3)]
    order(ada, "A-1")
    before = [scheduler().worker, webhooks()]
    for worker in before:
        worker.catch_up()
        assert worker.save_checkpoint()

    # After the checkpoint: a subscription and an automation paused (their deliveries and
    # runs not started never will be), a campaign cancelled, another scheduled, more orders.
    _ok(tenant.post(f"/v1/webhooks/{hooks[1]}/pause", {}))
    _ok(tenant.post(f"/v1/automations/{paused}/pause", {}))
    _ok(tenant.post(f"/v1/campaigns/{launches[0]}/cancel", {}))
    launches.append(campaign(4))
    order(bo, "B-1")
    head = crm.recorder.max_notification_id()

    for make, saved in ((lambda: scheduler().worker, before[0]), (webhooks, before[1])):
        restarted, whole_log = make(), make()
        whole_log.checkpoints = None
        assert restarted.catch_up() == head - saved.position
        assert whole_log.catch_up() == head
        assert _knows(restarted) == _knows(whole_log)

    launches_job, runs = before[0].jobs  # what it knew at the checkpoint, then what it knows now
    assert {str(key) for key in launches_job.scheduled_by_log} == set(launches[:3])
    restarted = scheduler().worker
    restarted.catch_up()
    launches_job, runs = restarted.jobs
    assert {str(key) for key in launches_job.scheduled_by_log} == set(launches[1:])
    assert sorted(str(start["customer_id"]) for start in runs.starts.values()) == sorted([ada, bo])
    assert {str(start["automation_id"]) for start in runs.starts.values()} == {thanks}
    deliveries = webhooks()
    deliveries.catch_up()
    assert sorted(str(start["subscription_id"]) for start in deliveries.jobs[0].first.values()) \
        == sorted([hooks[0], hooks[0]])
    assert len(deliveries.jobs[0].pending.logged) == 2


def test_a_stopping_scheduler_saves_its_checkpoint(app, tenant):
    from workers.scheduler import SchedulerWorker
    crm = app.state.crm
    tenant.register("Ada", None)
    scheduler = SchedulerWorker(crm, lambda: NOW)
    scheduler.sync()
    head = crm.recorder.max_notification_id()
    _ok(tenant.post("/v1/campaigns", {"name": "Later", "channel": "email", "subject": "Hi",
                                      "body": "Soon"}))
    scheduler.sync()  # read, but not saved: the last save was less than 30 s ago
    name, format = scheduler.worker.checkpoint
    assert Checkpoints(crm).load(name, format)[0] == head
    scheduler.stop()
    assert Checkpoints(crm).load(name, format)[0] == crm.recorder.max_notification_id() > head
