"""Node jobs on query nodes: the daily sales sweep and renewal reminders run on every node that
has read models (server mode without Kafka: the nodes follow the log themselves), with an
injected clock; two nodes over one event store create each task once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.settings import Settings
from commands.tenants import create_tenant
from tests.support import wait_until
from workers.node_jobs import NodeJobs
from workers.projector import read_log
from workers.sales_sweep import DAILY_HOUR, sales_day

REAL_NOW = datetime.now(timezone.utc)
# The nodes' clock: five days on, in the morning after the sales day began.
LATER = (REAL_NOW + timedelta(days=5)).replace(hour=DAILY_HOUR + 1, minute=0, second=0,
                                               microsecond=0)


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


class Node:
    """A query node (role query, no Kafka) and a client with the tenant's key."""

    def __init__(self, client: TestClient, key: str) -> None:
        self.client, self.app = client, client.app
        self.headers = {"Authorization": f"Bearer {key}"}
        self.jobs: NodeJobs = self.app.state.node_jobs

    def get(self, path: str, token: str | None = None, **params) -> dict:
        extra = {"X-Consistency-Token": token} if token else {}
        return ok(self.client.get(path, headers={**self.headers, **extra}, params=params))

    def tick(self, now: datetime) -> list[str]:
        self.jobs.clock = lambda: now
        return self.jobs.run_once()


@pytest.fixture
def cluster(tmp_path: Path, event_store_url: str, monkeypatch) -> Iterator[dict]:
    """A command node and two query nodes over one event store, each node its own data dir.
    The node-jobs threads are on but tick hourly: the tests tick them with their own clock."""
    monkeypatch.setenv("CRM_NODE_JOBS", "1")
    monkeypatch.setenv("CRM_NODE_JOBS_SECONDS", "3600")

    def settings(name: str) -> Settings:
        return Settings(data_dir=tmp_path / name, event_store=event_store_url, node_name=name,
                        admin_token="test-admin-token", consistency_timeout=10.0)
    with ExitStack() as stack:
        command = stack.enter_context(TestClient(create_app(settings("command"), role="command")))
        tenant_id, key = create_tenant(command.app.state.crm, "Renewing Shop")
        nodes = [Node(stack.enter_context(TestClient(create_app(settings(name), role="query"))), key)
                 for name in ("query-1", "query-2")]
        yield {"command": command, "headers": {"Authorization": f"Bearer {key}"},
               "tenant": str(tenant_id), "nodes": nodes}


def shop_with_due_work(cluster) -> dict:
    """Through the command node: a deal idle for 40 days (the default pipeline's lead stage rots
    after 30), a quote valid until tomorrow, and an active contract up for renewal in 20 days."""
    command, headers = cluster["command"], cluster["headers"]

    def post(path: str, body: dict, status: int = 200) -> dict:
        return ok(command.post(path, json=body, headers=headers), status)
    customer = post("/v1/customers", {"name": "Ada Potter", "email": "ada@example.com"}, 201)
    stale = post("/v1/opportunities", {
        "customer_id": customer["id"], "title": "Stale mugs", "value": "80", "currency": "GBP",
        "owner": "ann", "occurred_at": (REAL_NOW - timedelta(days=40)).isoformat()}, 201)
    fresh = post("/v1/opportunities", {"customer_id": customer["id"], "title": "Fresh jugs",
                                       "value": "40", "currency": "GBP"}, 201)
    quote = post(f"/v1/opportunities/{fresh['id']}/quotes",
                 {"valid_until": (REAL_NOW + timedelta(days=1)).date().isoformat()}, 201)
    post(f"/v1/quotes/{quote['id']}/send", {})
    renews_on = (REAL_NOW + timedelta(days=20)).date()
    contract = post("/v1/contracts", {
        "customer_id": customer["id"], "title": "Café beans", "type": "subscription",
        "start_date": (renews_on - timedelta(days=365)).isoformat(),
        "end_date": renews_on.isoformat()}, 201)
    last = post(f"/v1/contracts/{contract['id']}/activate", {})
    return {"customer": customer, "stale": stale, "quote": quote, "contract": contract,
            "renews_on": renews_on, "token": last["consistency_token"]}


def daily_jobs(node: Node) -> list:
    """The node's daily sales jobs (the sweep, the renewal reminders), in that order."""
    return [job for job in node.jobs.jobs if hasattr(job, "results")]


def stored(crm, kind: str) -> list:
    found, position = [], 0
    while batch := read_log(crm, position):
        found += [e for e in batch if e.type == kind]
        position = batch[-1].position
    return found


def test_a_query_node_sweeps_and_reminds_on_its_node_jobs_tick(cluster):
    shop = shop_with_due_work(cluster)
    node = cluster["nodes"][0]
    node.get("/v1/contracts/renewals", token=shop["token"])  # the node has caught up

    crm = node.app.state.crm
    assert stored(crm, "Task.Created") == [] and stored(crm, "Quote.Expired") == []

    assert node.tick(LATER) == []  # no job failed
    idle_days = int((LATER - (REAL_NOW - timedelta(days=40))).total_seconds() / 86400)
    rotting_title = f"Rotting deal: Stale mugs has had no activity in Lead for {idle_days} days"
    by_title = {e.data["title"]: e for e in stored(crm, "Task.Created")}
    assert sorted(by_title) == [f"Renewal due {shop['renews_on'].isoformat()}: Café beans",
                                rotting_title]
    rotting = by_title[rotting_title]
    assert (rotting.data["assignee"], rotting.data["opportunity_id"]) == ("ann", shop["stale"]["id"])
    assert rotting.actor == "node jobs: sales sweep"
    renewal = by_title[f"Renewal due {shop['renews_on'].isoformat()}: Café beans"]
    assert renewal.data["customer_id"] == shop["customer"]["id"]
    [expired] = stored(crm, "Quote.Expired")
    assert expired.stream == shop["quote"]["id"]

    # What the jobs did is on the node's read models like any command's effect.
    seen = node.get("/v1/tasks", token=f"{renewal.stream.replace('-', '')}.1")["items"]
    assert sorted(t["title"] for t in seen) == sorted(by_title)
    assert node.get(f"/v1/quotes/{shop['quote']['id']}",
                    token=f"{expired.stream.replace('-', '')}.{expired.version}")["status"] == "expired"

    # Later the same sales day: done already, nothing is even looked at again.
    node.tick(LATER + timedelta(hours=3))
    # The next day the jobs run again, and find their work done.
    node.tick(LATER + timedelta(days=1))
    assert len(stored(crm, "Task.Created")) == 2 and len(stored(crm, "Quote.Expired")) == 1
    sweep, reminders = daily_jobs(node)
    assert sweep.day == reminders.day == sales_day(LATER + timedelta(days=1))
    assert sweep.results[cluster["tenant"]]["already_existed"] == [UUID(rotting.stream)]
    assert reminders.results[cluster["tenant"]]["already_existed"] == [UUID(renewal.stream)]


def test_two_query_nodes_running_the_jobs_at_once_create_each_task_once(cluster):
    shop = shop_with_due_work(cluster)
    nodes = cluster["nodes"]
    for node in nodes:
        node.get("/v1/contracts/renewals", token=shop["token"])
    # Each node has caught up with the log as it stands (its jobs wait for that, judged once, at
    # the first round): asked only at the tick, a node slower off the barrier could find the
    # other's new tasks in the log, not yet applied, and sit the round out.
    assert all(node.jobs.ready() for node in nodes)
    start = threading.Barrier(len(nodes))

    def tick(node: Node) -> None:
        start.wait()
        node.tick(LATER)
    threads = [threading.Thread(target=tick, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    crm = cluster["command"].app.state.crm
    created = stored(crm, "Task.Created")
    assert len(created) == 2 and len({e.stream for e in created}) == 2
    assert len(stored(crm, "Quote.Expired")) == 1
    # Between them the nodes created each task once; the other found it there.
    reports = [job.results[cluster["tenant"]] for node in nodes for job in daily_jobs(node)]
    made = [task for report in reports for task in report["created"]]
    assert sorted(str(t) for t in made) == sorted(e.stream for e in created)
    found = [task for report in reports for task in report["already_existed"]]
    assert sorted(map(str, made)) == sorted(map(str, found))
    # Each node shows the two tasks.
    for node in nodes:
        token = f"{created[-1].stream.replace('-', '')}.1"
        assert len(node.get("/v1/tasks", token=token)["items"]) == 2


def test_the_node_jobs_thread_ticks_by_itself_and_survives_a_failing_job():
    class Failing:
        name = "always failing"

        def __init__(self) -> None:
            self.ticks = 0

        def tick(self, now: datetime) -> None:
            self.ticks += 1
            raise RuntimeError("boom")

    class Counting:
        name = "counting"

        def __init__(self) -> None:
            self.seen: list[datetime] = []

        def tick(self, now: datetime) -> None:
            self.seen.append(now)

    failing, counting = Failing(), Counting()
    jobs = NodeJobs([failing, counting], interval=0.01, clock=lambda: LATER, enabled=True)
    jobs.start()
    try:
        wait_until(lambda: len(counting.seen) >= 3, "three ticks of the node jobs", 20, every=0.01)
    finally:
        jobs.stop()
    assert not jobs.is_alive()
    assert failing.ticks >= 3 and set(counting.seen) == {LATER}

    waiting = NodeJobs([counting], interval=0.01, ready=lambda: False, enabled=True)
    assert waiting.run_once() == [] and waiting.ticks == 0  # not caught up yet: no tick
    assert NodeJobs([counting], enabled=False).enabled is False


def test_node_jobs_are_off_with_crm_node_jobs_0(tmp_path, event_store_url, monkeypatch):
    monkeypatch.setenv("CRM_NODE_JOBS", "0")
    app = create_app(Settings(data_dir=tmp_path / "q", event_store=event_store_url,
                              admin_token="t"), role="query")
    with TestClient(app):
        assert app.state.node_jobs.enabled is False and not app.state.node_jobs.is_alive()
    command = create_app(Settings(data_dir=tmp_path / "c", event_store=event_store_url,
                                  admin_token="t"), role="command")
    assert command.state.node_jobs is None  # no read models: no node jobs


def test_a_node_ticks_its_jobs_only_once_it_has_caught_up_with_the_log(tmp_path, client, tenant):
    from readmodels.store import ReadStore
    from workers.node_jobs import caught_up
    from workers.projector import Projector, catch_up

    crm = client.app.state.crm
    tenant.register()  # events the new node has not applied yet
    store = ReadStore(tmp_path / "new-node.duckdb")
    try:
        ticked: list[datetime] = []

        class Recording:
            name = "recording"

            def tick(self, now: datetime) -> None:
                ticked.append(now)
        jobs = NodeJobs([Recording()], clock=lambda: LATER, ready=caught_up(crm, store))
        assert jobs.run_once() == [] and ticked == []  # an empty node judges nothing
        catch_up(crm, Projector(store))
        jobs.run_once()
        assert ticked == [LATER]
    finally:
        store.close()


def test_query_nodes_record_a_segment_entry_once_on_their_tick(cluster):
    """The node jobs include SegmentEntries: a dynamic segment's new member becomes one
    SegmentMembership.Entered event however many query nodes tick."""
    command, headers = cluster["command"], cluster["headers"]
    segment = ok(command.post("/v1/segments", headers=headers, json={
        "name": "Big spenders", "rule": {"field": "lifetime_spend", "op": "gte", "value": "100"}}),
        201)
    customer = ok(command.post("/v1/customers", headers=headers,
                               json={"name": "Bea Baker", "email": "bea@example.com"}), 201)
    order = ok(command.post(f"/v1/customers/{customer['id']}/orders", headers=headers, json={
        "order_id": "B-1", "amount": "150.00", "currency": "GBP", "item_count": 1}), 201)
    for node in cluster["nodes"]:
        node.get(f"/v1/customers/{customer['id']}", token=order["consistency_token"])
        assert node.tick(LATER) == []
    entered = stored(command.app.state.crm, "SegmentMembership.Entered")
    assert [(e.data["segment_id"], e.data["customer_id"]) for e in entered] == [
        (segment["id"], customer["id"])]
