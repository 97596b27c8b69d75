"""Rebuilds on a query node: exact whatever order the feed delivered the events in."""

from __future__ import annotations

from uuid import UUID

import pytest

from readmodels.store import ReadStore
from tests.streaming.readmodels import differences, snapshot
from tests.streaming.workload import Workload
from workers.projector import Projector, read_log, rebuild

pytestmark = pytest.mark.kafka


def whole_log(crm) -> list:
    events, position = [], 0
    while batch := read_log(crm, position):
        events += batch
        position = batch[-1].position
    return events


def kafka_order(events: list, partitions: int = 3) -> tuple[list, list]:
    """Events as a query node gets them: per partition in log order, partitions at different
    speeds. Returns (delivered so far, still to come)."""
    by_partition: list[list] = [[] for _ in range(partitions)]
    for e in events:
        by_partition[UUID(e.stream).int % partitions].append(e)
    delivered, later = [], []
    for number, partition in enumerate(by_partition):
        cut = len(partition) * (number + 1) // (partitions + 1)  # 1/4, 2/4, 3/4 of each
        delivered += partition[:cut]
        later += partition[cut:]
    return delivered, later


def apply_in_batches(projector: Projector, events: list, size: int = 300) -> None:
    for start in range(0, len(events), size):
        batch = events[start:start + size]
        projector.apply(batch, max(e.position for e in batch))


def test_a_rebuild_holds_exactly_what_the_live_tables_applied_in_kafka_order(crm, tenant, tmp_path):
    workload = Workload(crm, tenant[0], seed=21)
    workload.register(60)
    workload.run(600)
    delivered, later = kafka_order(whole_log(crm))
    applied_positions = {e.position for e in delivered}
    assert any(e.position < max(applied_positions) for e in later)  # not a prefix of the log

    live, twin = ReadStore(tmp_path / "live.duckdb"), ReadStore(tmp_path / "twin.duckdb")
    node, same = Projector(live), Projector(twin)
    apply_in_batches(node, delivered)
    apply_in_batches(same, delivered)

    names = list(node.projections)
    size = -(-len(later) // len(names))  # contiguous slices keep each aggregate's order
    slices = [later[i * size:(i + 1) * size] for i in range(len(names))]  # arriving during each rebuild
    for name, arriving in zip(names, slices):
        def the_feed_goes_on(position: int, total: int, arriving=arriving) -> None:
            if arriving:  # while the rebuild reads the log, the live node applies more
                apply_in_batches(node, arriving)
                apply_in_batches(same, arriving)
                arriving.clear()
        rebuild(crm, node, name, the_feed_goes_on)
        assert live.generation(name) == 2
    live.close()
    twin.close()

    assert differences(snapshot(tmp_path / "live.duckdb"), snapshot(tmp_path / "twin.duckdb")) == []
