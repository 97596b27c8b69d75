"""What the projector keeps besides the read models, per batch: positions, applied versions,
Kafka offsets and tenant tokens, written as UPDATEs once they exist and INSERTs the first time
(readmodels/bookkeeping.py: both paths, and a batch that needs both, must give the rows the
upserts they replaced gave), and the applied versions noted in memory for reads waiting on a
consistency token."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from uuid import uuid4

import pytest

from readmodels import tenant_changes
from readmodels.changes import Upsert
from readmodels.store import ReadStore


@pytest.fixture
def store():
    store = ReadStore(":memory:")
    yield store
    store.close()


def test_positions_accumulate_and_a_new_projection_gets_its_row(store):
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with store.transaction() as cursor:
        store.record_positions(cursor, ["timeline", "tasks"], 10, 4, at)
    with store.transaction() as cursor:  # one row exists, one is new: update and insert
        store.record_positions(cursor, ["timeline", "orders"], 15, 3, None)
    rows = {r["projection"]: r for r in store.positions()}
    assert {p: (r["position"], r["applied_events"]) for p, r in rows.items()} == {
        "timeline": (15, 7), "tasks": (10, 4), "orders": (15, 3)}
    assert rows["timeline"]["newest_event_at"] == at  # an empty batch keeps the newest event's time
    assert rows["orders"]["newest_event_at"] is None


def test_applied_versions_insert_the_first_and_keep_the_highest(store):
    a, b = uuid4(), uuid4()
    with store.transaction() as cursor:
        store.record_applied(cursor, {a: 1, b: 2}, first={a, b})
    with store.transaction() as cursor:
        store.record_applied(cursor, {a: 3, b: 1}, first=())
        assert store.applied_versions(cursor, [a, b]) == {a: 3, b: 2}


def test_offsets_update_the_partitions_seen_and_add_new_ones(store):
    with store.transaction() as cursor:
        store.record_offsets(cursor, "crm.events", "id-1", {0: 5, 1: 7})
    with store.transaction() as cursor:
        store.record_offsets(cursor, "crm.events", "id-1", {1: 9, 2: 3})
        store.record_offsets(cursor, "other", "id-9", {1: 1})
    assert store.kafka_offsets("crm.events") == ("id-1", {0: 5, 1: 9, 2: 3})
    assert store.kafka_offsets("other") == ("id-9", {1: 1})


def test_a_tenants_token_is_renewed_by_every_batch_that_touches_its_spend(store):
    def order(tenant: str) -> Upsert:
        return Upsert("customer_summaries", {"id": uuid4()}, set={"tenant_id": tenant},
                      add={"order_count": 1})

    def tokens() -> dict:
        return dict(store.reader().execute("SELECT tenant_id, token FROM tenant_changes").fetchall())

    with store.transaction() as cursor:
        tenant_changes.record(cursor, "customer_summary", [order("t1")])
    first = tokens()
    with store.transaction() as cursor:
        tenant_changes.record(cursor, "customer_summary", [order("t1"), order("t2")])
    second = tokens()
    assert set(first) == {"t1"} and set(second) == {"t1", "t2"}
    assert second["t1"] != first["t1"]


def test_a_waiting_read_wakes_on_the_batch_that_applied_its_version(store):
    """wait_for finds a version the projector noted without asking DuckDB (the row is not even
    there here), wakes as soon as it is noted, and still times out when it never is."""
    aggregate = uuid4()
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(store.wait_for(aggregate, 2, 30)))
    waiter.start()
    store.note_applied({aggregate: 1})
    store.note_applied({uuid4(): 5})
    assert woke == [] and waiter.is_alive()
    store.note_applied({aggregate: 2})
    waiter.join(5)
    assert woke == [True]
    assert store.wait_for(uuid4(), 1, 0.3) is False


def test_the_noted_versions_stay_bounded_and_keep_the_newest(store, monkeypatch):
    monkeypatch.setattr("readmodels.store.RECENT", 10)
    first, *others = [uuid4() for _ in range(12)]
    store.note_applied({first: 1})
    for aggregate in others:
        store.note_applied({aggregate: 1})
    store.note_applied({first: 2})  # noted again: now among the newest
    assert len(store._recent) <= 10
    noted = store._recent  # keyed by the id's int: see ReadStore.__init__
    assert noted[first.int] == 2 and others[-1].int in noted and others[0].int not in noted


def test_every_cursor_reads_and_writes_times_in_utc_whatever_the_machine_zone(tmp_path):
    """Read models store instants and group them by UTC day; a node on a machine set to
    another zone must not shift them. Checked in a process started in Auckland's zone (DuckDB
    takes its default zone from the process's when the file is opened)."""
    script = (
        "import sys; from readmodels.store import ReadStore\n"
        "store = ReadStore(sys.argv[1])\n"
        "day = \"SELECT current_setting('TimeZone'), '2026-01-01 00:30+00'::TIMESTAMPTZ::DATE::VARCHAR\"\n"
        "print(store.reader().execute(day).fetchone())\n"
        "with store.transaction() as cursor:\n"
        "    print(cursor.execute(day).fetchone())\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "r.duckdb")],
                          env={**os.environ, "TZ": "Pacific/Auckland"},
                          capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["('UTC', '2026-01-01')"] * 2
