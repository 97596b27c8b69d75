"""Losing the broker's data: the topic comes back empty under a new id, and nothing is skipped."""

from __future__ import annotations

import pytest

from readmodels.store import ReadStore
from tests.streaming.conftest import ADMIN_TOKEN, Broker, Stack, wait_until
from tests.streaming.readmodels import applied_events, differences, snapshot
from tests.streaming.workload import Workload, stored_events
from workers.projector import Projector, catch_up

pytestmark = pytest.mark.kafka


def applied(node) -> int:
    rows = node.get("/v1/admin/projections",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).raise_for_status().json()
    return min(row["applied_events"] for row in rows)


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path / "tansu.log")
    broker.start()
    yield broker
    broker.stop()


def test_a_lost_topic_is_recreated_republished_and_the_node_catches_up_from_the_event_store(
        postgres_schema_url, broker, crm, tenant, tmp_path):
    stack = Stack(postgres_schema_url, broker.bootstrap, tmp_path)
    try:
        relay, node = stack.relay(), stack.query_node("q1")
        workload = Workload(crm, tenant[0], seed=17)
        workload.register(50)
        workload.run(200)
        wait_until(lambda: applied(node) >= stored_events(crm), 120, "the node to catch up")

        broker.restart()  # in-memory storage: every topic, message and offset is gone
        workload.run(150)
        # The relay notices, creates the topic again and publishes the whole log into it; the
        # node notices, says why, and catches up from the event store before going on.
        wait_until(lambda: relay.count("relay.topic_replaced") >= 1, 120, "the relay to republish")
        wait_until(lambda: node.count("feed.reset_done") >= 1, 120, "the node to reset")
        assert '"reason":' in next(line for line in node.log().splitlines() if "feed.reset" in line)

        workload.run(150)  # and the stream flows through the new topic again
        total = stored_events(crm)
        wait_until(lambda: applied(node) >= total, 120, f"the node to apply all {total} events")
        assert node.stopped_cleanly() and relay.stopped_cleanly()
    finally:
        stack.shutdown()

    live_path = stack.readmodel_path(node)
    assert set(applied_events(live_path).values()) == {total}
    fresh = ReadStore(tmp_path / "rebuilt.duckdb")
    catch_up(crm, Projector(fresh))
    fresh.close()
    assert differences(snapshot(live_path), snapshot(tmp_path / "rebuilt.duckdb")) == []
