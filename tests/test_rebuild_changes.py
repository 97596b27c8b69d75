"""A rebuild's events prepared by worker processes: the same batches, in order, as the
read-ahead thread prepares, across gaps in the log's positions and events appended
meanwhile; a worker that cannot start fails the rebuild; no worker outlives the reading."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import ModuleType
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import ProgrammingError

from commands import customers
from commands.application import Crm
from domain.base import Meta
from projections import PROJECTIONS
from tests.support import wait_until
from workers import rebuild_changes
from workers.rebuild_changes import Preparation, _in_processes, prepared_log

MODULES = [PROJECTIONS["timeline"], PROJECTIONS["customer_directory"], PROJECTIONS["opportunities"]]


@pytest.fixture
def crm(postgres_schema_url, monkeypatch):
    monkeypatch.setattr(rebuild_changes, "PROCESSES_FROM", 0)  # workers for any log here
    crm = Crm(postgres_schema_url)
    yield crm
    crm.close()


def _shop(crm: Crm, customers_: int, notes: int) -> tuple[Meta, list]:
    meta = Meta(str(uuid4()), "test")
    ids = [customers.register(crm, meta, customers.RegisterCustomer(name=f"C{n}")).id
           for n in range(customers_)]
    for n in range(notes):
        customers.add_note(crm, meta, ids[n % len(ids)], customers.AddNote(text=f"note {n}"))
    return meta, ids


def _skip_positions(crm: Crm, postgres_url: str, count: int) -> None:
    """Leaves ``count`` positions of the log unused, as rolled-back inserts do."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        sequence = connection.execute(
            "SELECT pg_get_serial_sequence(%s, 'notification_id')",
            (crm.events_table.replace('"', ""),)).fetchone()[0]
        connection.execute("SELECT setval(%s, nextval(%s) + %s)", (sequence, sequence, count))


def _prepared(crm: Crm, processes: int, batch: int = 7) -> list[list]:
    return list(prepared_log(crm, Preparation(crm.mapper, MODULES), batch, processes))


def test_workers_prepare_what_the_thread_prepares_across_gaps_in_the_log(crm, postgres_url):
    meta, ids = _shop(crm, 4, 10)
    _skip_positions(crm, postgres_url, 30)  # whole ranges of 7 with no events
    customers.add_note(crm, meta, ids[0], customers.AddNote(text="after the gap"))
    by_thread = _prepared(crm, processes=0)
    children = []

    def watched():
        for prepared in prepared_log(crm, Preparation(crm.mapper, MODULES), 7, 2):
            children.append(len(multiprocessing.active_children()))
            yield prepared

    by_workers = list(watched())

    assert by_workers == by_thread
    assert [len(batch) for batch in by_thread] == [7, 7, 1] and all(by_thread)  # no empty batch
    assert sum(1 for *_, changes in by_thread[0] if changes) > 0
    assert children and all(children)             # the workers were there while reading
    assert multiprocessing.active_children() == []  # and gone once the log was read


def test_events_appended_while_workers_prepare_are_read_after_their_ranges(crm):
    meta, ids = _shop(crm, 3, 20)
    head = crm.recorder.max_notification_id()
    reading = prepared_log(crm, Preparation(crm.mapper, MODULES), 5, 2)
    first = next(reading)                   # the workers' ranges end at the head as it was
    customers.add_note(crm, meta, ids[1], customers.AddNote(text="meanwhile"))
    rest = list(reading)

    events = [event for batch in [first, *rest] for event in batch]
    assert events[-1][2] == head + 1
    assert events == [event for batch in _prepared(crm, processes=0) for event in batch]


def test_a_workers_error_fails_the_reading(crm, postgres_url):
    _shop(crm, 3, 40)
    reading = prepared_log(crm, Preparation(crm.mapper, MODULES), 2, 2)
    next(reading)
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        table = crm.events_table  # gone from under the workers' next ranges
        connection.execute(f"ALTER TABLE {table} RENAME TO moved_away")
        try:
            with pytest.raises(ProgrammingError, match="does not exist"):
                list(reading)
        finally:
            schema = table.rsplit(".", 1)[0]
            connection.execute(f"ALTER TABLE {schema}.moved_away RENAME TO {table.rsplit('.', 1)[1]}")
    assert multiprocessing.active_children() == []


def test_a_worker_that_cannot_start_fails_the_reading(crm):
    _shop(crm, 2, 3)
    missing = ModuleType("projections.no_such_read_model")  # this process has it, a worker not

    with pytest.raises(BrokenProcessPool):
        list(_in_processes(crm.event_store_url, [missing], 5, 2, 1))
    assert multiprocessing.active_children() == []


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (exited and reaped, or a zombie nobody reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_workers_end_when_the_rebuilding_process_is_killed(crm):
    """Killed mid-rebuild (SIGKILL, the OOM killer), the rebuilding process leaves no worker
    waiting for its next range forever."""
    _shop(crm, 3, 30)
    script = textwrap.dedent(f"""
        import multiprocessing, time
        from commands.application import Crm
        from projections import PROJECTIONS
        from workers import rebuild_changes
        from workers.rebuild_changes import Preparation, prepared_log
        rebuild_changes.PROCESSES_FROM = 0
        crm = Crm({crm.event_store_url!r})
        reading = prepared_log(crm, Preparation(crm.mapper, [PROJECTIONS["timeline"]]), 2, 2)
        next(reading)
        print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
        time.sleep(60)
    """)
    rebuilding = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                                  cwd=Path(__file__).parents[1])
    try:
        workers = [int(pid) for pid in rebuilding.stdout.readline().split()]
        assert len(workers) == 2 and not any(_gone(pid) for pid in workers)
    finally:
        rebuilding.kill()
        rebuilding.wait()
    wait_until(lambda: all(_gone(pid) for pid in workers), "the workers to end", 10)


def test_a_reading_closed_early_leaves_no_worker(crm):
    _shop(crm, 3, 30)
    reading = prepared_log(crm, Preparation(crm.mapper, MODULES), 4, 2)
    next(reading)
    reading.close()
    assert multiprocessing.active_children() == []
