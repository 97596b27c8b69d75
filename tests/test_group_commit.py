"""Group commit: concurrent commands share transactions, yet each gets its own answer."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from uuid import uuid4

import pytest

from commands import customers
from commands.application import Crm
from commands.errors import Conflict
from commands.group_commit import GroupCommit
from domain.base import Meta


@pytest.fixture
def crm(event_store_url):
    app = Crm(event_store_url)
    yield app
    app.close()


def test_concurrent_commands_are_all_committed_with_their_own_versions(crm):
    meta = Meta(str(uuid4()), "test")
    ids = [customers.register(crm, meta, customers.RegisterCustomer(name=f"C{i}")).id for i in range(20)]

    def order(customer_id):
        return customers.record_order(crm, meta, customer_id, customers.RecordOrder(
            order_id="A", amount="5.00", currency="GBP", item_count=1))

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(order, ids))

    assert [o.version for o in outcomes] == [2] * 20
    for customer_id in ids:
        assert len(list(crm.events.get(customer_id))) == 2


def test_a_conflict_in_a_group_fails_only_that_command(crm):
    meta = Meta(str(uuid4()), "test")
    target = customers.register(crm, meta, customers.RegisterCustomer(name="Contended")).id
    others = [customers.register(crm, meta, customers.RegisterCustomer(name=f"O{i}")).id for i in range(8)]
    start = threading.Barrier(10)

    def note(customer_id):
        start.wait()
        try:
            return customers.add_note(crm, meta, customer_id, customers.AddNote(text="hi"),
                                      expected_version=1)
        except Conflict as conflict:
            return conflict

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(note, [target, target] + others))

    contended = results[:2]
    assert sum(isinstance(r, Conflict) for r in contended) == 1
    assert all(not isinstance(r, Conflict) and r.version == 2 for r in results[2:])
    assert len(list(crm.events.get(target))) == 2


def test_the_leader_writes_groups_and_hands_over():
    written: list[list[int]] = []
    gate = threading.Event()

    def write(events):
        gate.wait()
        written.append(list(events))

    group = GroupCommit(write)
    threads = [threading.Thread(target=group.commit, args=([n],)) for n in range(6)]
    for thread in threads:
        thread.start()
    while len(group._queue) < 5:  # the leader is writing; the five others are queued
        threading.Event().wait(0.01)
    gate.set()
    for thread in threads:
        thread.join(5)

    assert sorted(e for batch in written for e in batch) == list(range(6))
    assert [len(batch) for batch in written] == [1, 5]  # the five queued ones shared one
