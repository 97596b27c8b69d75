"""Reading the log: on PostgreSQL straight from the events table, equal to the library's
notifications; read ahead, the same batches as reading one after another, the next one
asked for while the caller still holds this one, and no thread at the head."""

from __future__ import annotations

import threading
from uuid import uuid4

import psycopg
import pytest

from commands import customers
from commands.application import Crm
from domain.base import Meta
from projections.stored import stored_envelopes
from readmodels.store import ReadStore
from tests.support import wait_until
from workers import projector
from workers.log_reader import batches, log_read


@pytest.fixture
def crm(event_store_url):
    crm = Crm(event_store_url)
    meta = Meta(str(uuid4()), "test")
    customer = customers.register(crm, meta, customers.RegisterCustomer(name="Ada")).id
    for n in range(10):  # 11 events
        customers.add_note(crm, meta, customer, customers.AddNote(text=f"note {n}"))
    yield crm
    crm.close()


def _recorded(crm: Crm):
    """The store's reader, recording each read: its start and the thread that asked."""
    reads: list[tuple[int, str]] = []
    read = log_read(crm)

    def recording(start, limit):
        reads.append((start, threading.current_thread().name))
        return read(start, limit)
    return recording, reads


def test_the_log_reads_as_the_library_reads_it(crm):
    read = log_read(crm)
    for start, limit in [(1, 100), (4, 3), (11, 5), (12, 5)]:
        rows = read(start, limit)
        library = crm.recorder.select_notifications(start=start, limit=limit)
        fields = ("id", "originator_id", "originator_version", "topic", "state")
        assert [tuple(getattr(n, f) for f in fields) for n in rows] == \
            [tuple(getattr(n, f) for f in fields) for n in library]
        assert stored_envelopes(crm.mapper).envelopes(rows) == \
            stored_envelopes(crm.mapper).envelopes(library)


@pytest.mark.parametrize("limit", [1, 3, 11, 12, 100])
def test_the_batches_are_those_of_reading_one_after_another(crm, limit):
    read = log_read(crm)
    ids = [[n.id for n in batch] for batch in batches(read, 0, limit)]
    expected, position = [], 0
    while found := read(position + 1, limit):
        expected.append([n.id for n in found])
        position = found[-1].id
    assert ids == expected
    assert sum(ids, []) == list(range(1, 12))
    after = [[n.id for n in batch] for batch in batches(read, 4, limit)]
    assert sum(after, []) == list(range(5, 12))
    assert list(batches(read, 11, limit)) == []


def test_the_next_batch_is_read_while_the_caller_holds_this_one(crm):
    read, reads = _recorded(crm)
    held = []
    for batch in batches(read, 0, 4, convert=lambda b: [n.id for n in b]):
        if not held:  # still holding the first batch: the second is asked for meanwhile
            wait_until(lambda: len(reads) == 2, "the next batch to be read ahead", 10, 0.01)
        held.append(batch)
    assert held == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11]]
    assert reads[0] == (1, threading.current_thread().name)
    assert [start for start, _ in reads] == [1, 5, 9]
    assert all(name.startswith("log-read-ahead") for _, name in reads[1:])


def test_at_the_head_no_thread_is_started(crm):
    read, reads = _recorded(crm)
    assert [len(batch) for batch in batches(read, 8, 2000)] == [3]
    assert [len(batch) for batch in batches(read, 11, 2000)] == []
    assert reads == [(9, threading.current_thread().name), (12, threading.current_thread().name)]


def test_a_caller_that_stops_early_leaves_no_read_running(crm):
    reading = batches(log_read(crm), 0, 2)
    next(reading)
    reading.close()  # what a failing apply does to the generator
    assert not [t for t in threading.enumerate() if t.name.startswith("log-read-ahead")]


def test_dropped_connections_are_retried_as_the_library_retries_them(postgres_schema_url, postgres_url):
    crm = Crm(f"{postgres_schema_url}&pool_size=2&max_overflow=0")
    try:
        meta = Meta(str(uuid4()), "test")
        customers.register(crm, meta, customers.RegisterCustomer(name="Ada"))
        read = log_read(crm)
        assert len(read(1, 10)) == 1
        datastore = crm.recorder.datastore
        with datastore.get_connection() as one, datastore.get_connection() as two:  # the pool's all
            pids = [one.info.backend_pid, two.info.backend_pid]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert len(read(1, 10)) == 1  # the dead connections fail, are dropped, a new one reads
    finally:
        crm.close()


def test_a_catch_up_far_behind_the_head_takes_larger_batches(crm, tmp_path, monkeypatch):
    asked = []  # the batch sizes the catch-ups read with
    read = log_read(crm)
    monkeypatch.setattr(projector, "log_read", lambda crm: lambda start, limit: asked.append(
        limit) or read(start, limit))
    monkeypatch.setattr(projector, "FAR_BEHIND", 5)
    monkeypatch.setattr(projector, "FAR_BATCH", 4)
    monkeypatch.setattr(projector, "BATCH_SIZE", 2)
    store = ReadStore(tmp_path / "readmodels.duckdb")
    try:
        node = projector.Projector(store)
        meta = Meta(str(uuid4()), "test")
        assert projector.catch_up(crm, node) == 11  # 11 events behind: batches of 4
        assert asked == [4, 4, 4]
        asked.clear()
        customer = customers.register(crm, meta, customers.RegisterCustomer(name="Bo")).id
        for n in range(2):
            customers.add_note(crm, meta, customer, customers.AddNote(text=f"note {n}"))
        assert projector.catch_up(crm, node) == 3   # 3 behind: batches of 2
        assert asked == [2, 2]
    finally:
        store.close()
