"""Rebuilding a projection beside the live one gives the same rows, and never blocks readers."""

from __future__ import annotations

import gc
import multiprocessing
import time
from datetime import datetime, timedelta, timezone

import pytest

from commands.application import Crm
from domain.base import Meta
from domain.customer import Customer
from projections import PROJECTIONS
from readmodels.schema import TABLES
from readmodels.store import ReadStore
from tests.conftest import Tenant
from workers import projector as projector_module
from workers import rebuild_changes
from workers.demo import load_demo
from workers.projector import Projector, catch_up, rebuild, rebuild_many

ADMIN = {"Authorization": "Bearer test-admin-token"}
ISSUE_PROJECTIONS = ("customer_directory", "customer_summary", "orders", "timeline", "opportunities")


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture(scope="module")
def workload(module_app, module_client, make_tenant):
    """A demo shop (orders, notes, calls, tags, deals, a campaign) and a second tenant's commands."""
    _, key = load_demo(module_app.state.crm, customers=25, seed=11)
    demo = Tenant("demo", key, module_client)
    shop = make_tenant("Rebuild shop")
    ids = [shop.register(f"Customer {n}", f"c{n}@Example.com")["id"] for n in range(6)]
    _ok(shop.patch(f"/v1/customers/{ids[0]}", {"name": "Renamed", "phone": "07911 123456"}))
    _ok(shop.post(f"/v1/customers/{ids[1]}/archive", {}))
    _ok(shop.post(f"/v1/customers/{ids[2]}/tags", {"add": ["vip", "local"]}))
    _ok(shop.post(f"/v1/customers/{ids[2]}/tags", {"remove": ["local"]}))
    for n, customer in enumerate(ids[2:]):
        _ok(shop.post(f"/v1/customers/{customer}/orders", {
            "order_id": f"R-{n}", "amount": f"{n + 1}.25", "currency": "EUR" if n % 2 else "GBP",
            "item_count": n + 1, "occurred_at": f"2025-0{n + 1}-15T12:00:00Z"}))
        _ok(shop.post(f"/v1/customers/{customer}/communications", {
            "channel": "phone", "direction": "inbound", "occurred_at": f"2025-0{n + 2}-01T08:00:00Z"}))
    deals = [_ok(shop.post("/v1/opportunities", {"customer_id": ids[n], "title": f"Deal {n}",
                                                 "value": f"{100 * n}", "currency": "GBP"}))["id"]
             for n in range(4)]
    _ok(shop.post(f"/v1/opportunities/{deals[0]}/stage", {"stage": "proposal"}))
    _ok(shop.post(f"/v1/opportunities/{deals[1]}/value", {"value": "55.55", "currency": "EUR"}))
    _ok(shop.post(f"/v1/opportunities/{deals[2]}/win", {}))
    _ok(shop.post(f"/v1/opportunities/{deals[3]}/lose", {"reason": "timing"}))
    for outcome in ("complete", "cancel"):
        campaign = _ok(shop.post("/v1/campaigns", {"name": outcome, "channel": "sms", "body": "Hi"}))["id"]
        _ok(shop.post(f"/v1/campaigns/{campaign}/schedule", {
            "scheduled_for": (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()}))
        _ok(shop.post(f"/v1/campaigns/{campaign}/launch", {"customer_ids": ids[:4]}))
        last = _ok(shop.post(f"/v1/campaigns/{campaign}/{outcome}", {}))
    # everything before the last command is projected once its token is
    assert shop.get("/v1/customers", token=last["consistency_token"]).status_code == 200
    return shop, demo


def snapshot(store: ReadStore, projection: str) -> dict[str, list[tuple]]:
    """Every row of every table of the projection, through the views readers use."""
    cursor = store.reader()
    return {table: cursor.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            for table in TABLES[projection]}


@pytest.fixture(scope="module")
def reference(workload):
    """A second node's store, fed from the whole log by the same projector: what a rebuild must equal."""
    store = ReadStore(":memory:")
    yield Projector(store)
    store.close()


def replayed(crm, reference: Projector, projection: str) -> dict[str, list[tuple]]:
    catch_up(crm, reference)
    return snapshot(reference.store, projection)


def reads(shop: Tenant) -> tuple:
    """What a reader sees: the directory, one 360 view, a timeline, the deals and their totals."""
    customers = _ok(shop.get("/v1/customers", params={"limit": 200}))["items"]
    first = customers[-1]["id"]
    return (customers, _ok(shop.get(f"/v1/customers/{first}")),
            _ok(shop.get(f"/v1/customers/{first}/timeline", params={"limit": 200})),
            _ok(shop.get("/v1/opportunities", params={"limit": 200})),
            _ok(shop.get("/v1/opportunities/by-stage")))


def test_the_live_read_models_hold_the_workload(workload, module_app):
    shop, demo = workload
    store = module_app.state.store
    assert len(demo.get("/v1/customers", params={"limit": 200}).json()["items"]) == 25
    rows = snapshot(store, "timeline")["timeline"]
    assert len(rows) > 100
    assert len(snapshot(store, "orders")["orders"]) > 20


@pytest.mark.parametrize("projection", list(PROJECTIONS))
def test_a_rebuild_equals_the_live_tables_row_for_row(workload, reference, module_app, projection):
    shop, demo = workload
    crm, projector, store = module_app.state.crm, module_app.state.projector, module_app.state.store
    before = snapshot(store, projection)
    generation = store.generation(projection)
    serves_reads = projection in ISSUE_PROJECTIONS
    seen_before = reads(shop) if serves_reads else None
    during = []

    def progress(position: int, total: int) -> None:
        if serves_reads:
            during.append(reads(shop))     # a reader in the middle of the rebuild
        else:
            during.append(position)

    rebuild(crm, projector, projection, progress)

    assert store.generation(projection) == generation + 1
    assert snapshot(store, projection) == before
    assert before == replayed(crm, reference, projection)
    assert during
    if serves_reads:
        assert all(seen == seen_before for seen in during)


def test_a_rebuild_prepared_by_worker_processes_equals_the_live_tables(workload, reference, module_app,
                                                                       monkeypatch):
    """On PostgreSQL a long log's events are read and prepared by worker processes (here any
    log: PROCESSES_FROM at 0): by default for the rebuild of one read model, and for several
    when asked; every read model rebuilt in one pass that way equals the live tables. On
    SQLite the read-ahead thread prepares them."""
    crm, projector, store = module_app.state.crm, module_app.state.projector, module_app.state.store
    monkeypatch.setattr(rebuild_changes, "PROCESSES_FROM", 0)
    names = list(PROJECTIONS)
    before = {name: snapshot(store, name) for name in names}
    workers = []

    def watch(workers: list[int]):
        return lambda *_: workers.append(len(multiprocessing.active_children()))

    rebuild_many(crm, projector, names, watch(workers), processes=2)
    by_default = {"one": [], "several": []}
    rebuild(crm, projector, "timeline", watch(by_default["one"]))
    rebuild_many(crm, projector, ["orders", "tasks"], watch(by_default["several"]))

    assert {name: snapshot(store, name) for name in names} == before
    assert before == {name: replayed(crm, reference, name) for name in names}
    def used_workers(counts: list[int]) -> bool:  # at every progress report
        return bool(counts) and all(bool(n) for n in counts)

    def no_workers(counts: list[int]) -> bool:
        return bool(counts) and not any(counts)

    as_expected = used_workers if crm.on_postgres else no_workers  # SQLite: the thread prepares
    assert as_expected(workers) and as_expected(by_default["one"])
    assert no_workers(by_default["several"])


def test_writes_during_a_rebuild_are_in_the_new_generation(workload, reference, module_app):
    shop, _ = workload
    crm, projector, store = module_app.state.crm, module_app.state.projector, module_app.state.store
    written = []

    def progress(position: int, total: int) -> None:
        if not written:    # a command lands while the rebuild is replaying the log
            customer = shop.register("Arrived mid-rebuild", None)
            written.append(shop.post(f"/v1/customers/{customer['id']}/orders", {
                "order_id": "M-1", "amount": "3.00", "currency": "GBP", "item_count": 1}).json())

    rebuild(crm, projector, "customer_summary", progress)

    view = shop.get(f"/v1/customers/{written[0]['id']}", token=written[0]["consistency_token"]).json()
    assert (view["name"], view["order_count"], view["lifetime_spend"]) == ("Arrived mid-rebuild", 1, "3.00")
    assert snapshot(store, "customer_summary") == replayed(crm, reference, "customer_summary")


# -- through the admin API -----------------------------------------------------------------------


def _status(client, projection: str) -> dict:
    response = client.get("/v1/admin/projections", headers=ADMIN)
    assert response.status_code == 200, response.text
    return next(row for row in response.json() if row["projection"] == projection)


@pytest.mark.parametrize("projection", ISSUE_PROJECTIONS)
def test_a_rebuild_through_the_admin_api(workload, module_app, module_client, projection):
    shop, _ = workload
    store = module_app.state.store
    before, seen_before = snapshot(store, projection), reads(shop)
    generation = store.generation(projection)

    started = module_client.post(f"/v1/admin/projections/{projection}/rebuild", headers=ADMIN)

    assert started.status_code == 202, started.text
    assert started.json()["projection"] == projection
    assert started.json()["rebuilding"]["state"] in ("running", "done")
    for _ in range(600):               # a bound, not a timing assertion: the loop ends on "done"
        assert reads(shop) == seen_before                  # readers keep working meanwhile
        row = _status(module_client, projection)
        if row["rebuilding"]["state"] != "running":
            break
        time.sleep(0.02)
    assert row["rebuilding"]["state"] == "done", row
    assert row["generation"] == generation + 1 and row["lag"] == 0
    assert snapshot(store, projection) == before


def test_the_status_lists_every_projection_with_its_position(workload, module_app, module_client):
    head = module_app.state.crm.recorder.max_notification_id()
    rows = module_client.get("/v1/admin/projections", headers=ADMIN).json()
    assert {row["projection"] for row in rows} == set(PROJECTIONS)
    for row in rows:
        assert 0 < row["position"] <= head and row["lag"] == head - row["position"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-admin-token"},
                                     "tenant key"])
def test_the_admin_routes_need_the_admin_token(workload, module_client, module_app, headers):
    shop, _ = workload
    if headers == "tenant key":
        headers = shop.headers
    generation = module_app.state.store.generation("timeline")
    for response in (module_client.get("/v1/admin/projections", headers=headers),
                     module_client.post("/v1/admin/projections/timeline/rebuild", headers=headers)):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
    assert module_app.state.store.generation("timeline") == generation


def test_rebuilding_an_unknown_projection_is_404(module_client):
    response = module_client.post("/v1/admin/projections/no_such_thing/rebuild", headers=ADMIN)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_rebuilds_bookkeeping_is_not_walked_by_the_collector(event_store_url, monkeypatch):
    """A rebuild keeps a version for every aggregate in the store; held as objects, they were
    what each full pass of the collector walked (a quarter of a rebuild at 100k customers). The
    tracked objects must not grow with the aggregates replayed."""
    crm, store = Crm(event_store_url), ReadStore(":memory:")
    try:
        meta = Meta(tenant_id="t1", actor="test")
        crm.save(*(Customer.register(meta, f"Customer {n}") for n in range(3_000)))
        projector = Projector(store)
        catch_up(crm, projector)
        monkeypatch.setattr(projector_module, "REBUILD_BATCH", 100)
        tracked = {}

        def progress(position: int, total: int) -> None:
            if position in (200, 2_900):  # inside the replay, each with a batch of 100 in hand
                gc.collect()
                tracked[position] = len(gc.get_objects())

        rebuild(crm, projector, "customer_directory", progress)

        # 2,700 more aggregates replayed in between: kept as objects, their versions would add
        # 2,700 or more. Either moment may or may not find the read-ahead's next batch of 100
        # already prepared (~560 objects: seen in CI), hence the allowance of one batch.
        assert tracked[2_900] - tracked[200] < 1_000
    finally:
        store.close()
        crm.close()
