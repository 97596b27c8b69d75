"""The in-process probes of bench/ (`python -m bench.file_reads`, `python -m bench.segment_refresh`,
`python -m bench.ab`) run on a file a service left behind and measure what they say they measure;
the suite's catch-up stops cleanly, and it and the rebuilds run with the collector frozen."""

from __future__ import annotations

import gc
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from bench import ab, file_reads, projection_speed, segment_refresh
from commands.settings import Settings
from readmodels import timeline
from tests.conftest import _tenant


@pytest.fixture(scope="module")
def readmodels_file(tmp_path_factory) -> Path:
    """A read-model file of three customers with an order each, the service stopped."""
    tmp_path = tmp_path_factory.mktemp("probes")
    settings = Settings(data_dir=tmp_path / "data", event_store=f"sqlite:///{tmp_path / 'e.sqlite3'}",
                        admin_token="test-admin-token", consistency_timeout=5.0)
    app = create_app(settings)
    with TestClient(app) as client:
        tenant = _tenant(app, client, "Potter's Wheel")
        for n in range(3):
            customer = tenant.register(f"C{n}", f"c{n}@example.com")["id"]
            ordered = tenant.post(f"/v1/customers/{customer}/orders", json={
                "order_id": f"o-{n}", "amount": f"{10 * (n + 1)}.00", "currency": "GBP",
                "item_count": 1, "occurred_at": datetime.now(timezone.utc).isoformat()}).json()
        assert tenant.get(f"/v1/customers/{customer}", token=ordered["consistency_token"]).status_code == 200
    return settings.data_dir / "readmodels.duckdb"


def test_the_read_probe_times_each_part_of_the_360_view_while_the_tenant_changes(readmodels_file):
    figures = file_reads.measure(readmodels_file, 0.3, changes_per_s=50)

    assert figures["tenant_customers"] == 3
    parts = figures["customer_360_parts"]
    assert set(parts) == {"profile", "lists", "rfm_breakpoints"}
    assert all(part["samples"] > 0 for part in parts.values())
    during = figures["customer_360_while_orders"]
    assert during["changes"] > 0 and during["customer_360"]["samples"] > 0
    assert during["customer_360_breakpoints_always_recomputed"]["samples"] > 0
    assert figures["lead_funnel"]["samples"] > 0 and figures["stage_funnel"]["samples"] > 0


def test_the_segment_probe_evaluates_every_kind_of_rule_and_leaves_the_file_unchanged(readmodels_file):
    before = readmodels_file.read_bytes()

    figures = segment_refresh.measure(readmodels_file, runs=3)

    assert figures["tenant_customers"] == 3
    for rule in segment_refresh.RULES:
        assert {case: figures[rule][case]["samples"] for case in figures[rule]} == {
            "everyone": 3, "1_customer": 3, "10_customers": 3}
    assert readmodels_file.read_bytes() == before


def test_the_ab_probe_runs_a_revision_beside_the_working_tree_on_the_same_customers(readmodels_file):
    figures = ab.compare(readmodels_file, "HEAD", rounds=2, calls=3)

    assert set(figures["queries"]) == {"customer_list", "customer_search", "customer_360",
                                       "timeline", "lead_funnel", "stage_funnel", "pipeline_board"}
    for rounds in figures["queries"].values():
        assert len(rounds) == 2
        assert all(r["old"]["samples"] == r["new"]["samples"] == 3 for r in rounds)
    old = ab.at_revision("readmodels.timeline", "HEAD")
    assert old.__name__ == "readmodels.timeline@HEAD" and old.timeline is not timeline.timeline


def test_the_ab_probe_refuses_versions_that_answer_differently(readmodels_file, monkeypatch):
    real = ab.at_revision

    def other_answers(name, revision):
        module = real(name, revision)
        if name == "readmodels.timeline":
            module.timeline = lambda *args, **kwargs: {"items": []}
        return module

    monkeypatch.setattr(ab, "at_revision", other_answers)
    with pytest.raises(SystemExit, match="timeline: the two versions answer differently"):
        ab.compare(readmodels_file, "HEAD", rounds=1, calls=1, only=["timeline"])


def test_a_catch_up_stopped_midway_ends_its_batch_and_starts_no_other(monkeypatch):
    """SIGTERM or Ctrl-C during the suite's catch-up: the run then closes the store, so the
    catch-up thread must not be inside a batch, nor start one, once the stop is raised."""
    batches = []  # "start" / "end" of each batch, as the thread applies them
    stop = threading.Event()

    def catch_up(crm, projector):
        while not stop.is_set():
            with projector.lock:
                batches.append("start")
                time.sleep(0.05)
                batches.append("end")
        return 0

    @contextmanager
    def phases(name, total=None):
        calls = []

        def advance(done):
            calls.append(done)
            if len(calls) == 2:
                raise KeyboardInterrupt
        yield advance

    monkeypatch.setattr(projection_speed, "catch_up", catch_up)
    projector = SimpleNamespace(projections={"timeline": None}, lock=threading.Lock(),
                                store=SimpleNamespace(position=lambda name: 0))
    with pytest.raises(KeyboardInterrupt):
        projection_speed.timed_catch_up(None, projector, 100, phases)
    stopped_at = list(batches)
    time.sleep(0.3)
    stop.set()
    assert stopped_at[-1] == "end" and batches == stopped_at
    projector.lock.release()  # the waiting thread ends


def test_the_suite_projects_with_the_collector_frozen_as_the_service_does(tmp_path, monkeypatch):
    """The node and the offline rebuild freeze what they loaded; the suite's in-process
    catch-up and rebuilds do too, so their figures are the service's."""
    from bench import rfm_baseline, run

    frozen = []
    monkeypatch.setattr(projection_speed, "timed_catch_up", lambda *args: frozen.append(
        gc.get_freeze_count()) or {"events_per_s": 1.0})
    monkeypatch.setattr(projection_speed, "rebuilds", lambda *args: frozen.append(
        gc.get_freeze_count()) or {})
    monkeypatch.setattr(rfm_baseline, "measure", lambda *args: {})
    args = SimpleNamespace(rebuild_names=["timeline"], rebuild_repeat=1, seconds=1.0)

    @contextmanager
    def phases(name, total=None):
        yield lambda done: None

    run._projections(args, f"sqlite:///{tmp_path / 'e.sqlite3'}", tmp_path, "t",
                     {"population": {"events": 0}}, phases)
    assert len(frozen) == 2 and min(frozen) > 10_000
    assert gc.get_freeze_count() == 0
