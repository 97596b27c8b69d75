"""Competing consumers: two automation workers share the topic; one is killed mid-work."""

from __future__ import annotations

import json
from uuid import uuid5

import pytest

from commands import opportunities as op
from domain.base import Meta
from domain.task import Task
from tests.streaming.conftest import wait_until
from tests.streaming.workload import Workload
from workers.automation import FOLLOW_UP, follow_up_lost_deal
from workers.projector import read_log

pytestmark = pytest.mark.kafka


def lost_deal_events(crm) -> list:
    events, position = [], 0
    while batch := read_log(crm, position):
        events += [e for e in batch if e.type == "Opportunity.Lost"]
        position = batch[-1].position
    return events


def tasks_in_store(crm) -> list:
    tasks, position = [], 0
    while batch := read_log(crm, position):
        tasks += [e for e in batch if e.type == "Task.Created"]
        position = batch[-1].position
    return tasks


def assignments(worker) -> list[list[int]]:
    return [json.loads(line)["partitions"] for line in worker.log().splitlines()
            if '"event":"group.assigned"' in line]


def lose_deals(crm, tenant_id: str, customers: list, count: int, start: int) -> None:
    meta = Meta(tenant_id=tenant_id, actor="sales")
    for i in range(start, start + count):
        deal = op.open_opportunity(crm, meta, op.OpenOpportunity(
            customer_id=customers[i % len(customers)], title=f"Wedding set {i}", value="900.00",
            currency="GBP", owner="sam"))
        op.lose(crm, meta, deal.id, op.LoseOpportunity(reason="budget"))


def test_killing_one_of_two_workers_moves_its_partitions_and_no_follow_up_is_lost_or_doubled(
        stack, crm, tenant):
    workload = Workload(crm, tenant[0], seed=5)
    workload.register(40)
    relay, first, second = stack.relay(), stack.worker("w1"), stack.worker("w2")
    every = list(range(stack.partitions))
    # Both members hold a share of the partitions before any deal is lost.
    wait_until(lambda: (assignments(first) and assignments(second)
                        and sorted(assignments(first)[-1] + assignments(second)[-1]) == every
                        and assignments(first)[-1] and assignments(second)[-1]),
               120, "the two workers to share the partitions")

    lose_deals(crm, tenant[0], workload.customers, 30, start=0)
    wait_until(lambda: first.count("automation.task_created") >= 3, 120, "w1 to create tasks")
    first.kill()  # SIGKILL mid-stream: no goodbye to the group, offsets maybe not committed
    lose_deals(crm, tenant[0], workload.customers, 30, start=30)

    lost = lost_deal_events(crm)
    assert len(lost) == 60
    wait_until(lambda: len(tasks_in_store(crm)) >= len(lost), 120, "a follow-up task for every lost deal")
    wait_until(lambda: assignments(second)[-1] == every, 120, "w2 to own every partition")

    # None lost: each lost deal has its task, with the deterministic id, caused by that event.
    for event in lost:
        task = crm.repository.get(uuid5(FOLLOW_UP, event.event_id))
        assert isinstance(task, Task) and task.version == 1
        assert task.opportunity_id == event.aggregate_id and task.assignee == "sam"
        assert task.title.startswith("Follow up on lost deal: Wedding set ")
        assert str(task.customer_id) == event.data["customer_id"]
    # None doubled: exactly one Task.Created per lost deal, each caused by a different Lost event.
    created = tasks_in_store(crm)
    assert sorted(t.causation_id for t in created) == sorted(e.event_id for e in lost)
    assert first.count("automation.task_created") + second.count("automation.task_created") <= len(lost)
    assert second.stopped_cleanly() and second.count("group.stopped") == 1


def test_the_policy_run_twice_for_one_event_creates_one_task(crm, tenant):
    """What a redelivery, or a crash between the work and the offset commit, amounts to."""
    workload = Workload(crm, tenant[0], seed=9)
    workload.register(1)
    lose_deals(crm, tenant[0], workload.customers, 1, start=0)
    [event] = lost_deal_events(crm)

    assert follow_up_lost_deal(crm, event) == "created"
    assert follow_up_lost_deal(crm, event) == "done before"

    [created] = tasks_in_store(crm)
    assert created.causation_id == event.event_id and created.correlation_id == event.correlation_id
    assert created.data["opportunity_id"] == event.stream
    assert follow_up_lost_deal(crm, created) is None  # other events are not this policy's business
