"""The fault test: relay and query node SIGKILLed at random moments lose and double nothing."""

from __future__ import annotations

import random
import threading
import time

import pytest
from kafka import KafkaConsumer, TopicPartition

from commands.settings import Settings
from projections.envelope import Envelope
from workers import kafka_clients

from readmodels.store import ReadStore
from tests.streaming.conftest import ADMIN_TOKEN, wait_until
from tests.streaming.readmodels import applied_events, differences, snapshot
from tests.streaming.workload import Workload, stored_events
from workers.projector import Projector, catch_up, rebuild

pytestmark = pytest.mark.kafka

CUSTOMERS = 300
COMMANDS = 2200
KILLS_EACH = 3
PACE = 100  # commands per second: the stream lasts long enough for kills mid-stream


def topic_envelopes(stack) -> list[Envelope]:
    settings = Settings(kafka_bootstrap=stack.bootstrap, kafka_topic=stack.topic)
    consumer = KafkaConsumer(**kafka_clients.consumer(settings, "test"))
    try:
        partitions = [TopicPartition(stack.topic, p) for p in consumer.partitions_for_topic(stack.topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        envelopes = []
        while batch := consumer.poll(timeout_ms=2000):
            envelopes += [Envelope.from_json(m.value) for ms in batch.values() for m in ms]
        return envelopes
    finally:
        consumer.close()


def node_applied(node) -> int:
    rows = node.get("/v1/admin/projections",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).raise_for_status().json()
    return min(row["applied_events"] for row in rows)


def test_relay_and_query_node_killed_at_random_lose_nothing_and_apply_nothing_twice(
        stack, crm, tenant, tmp_path):
    rnd = random.Random(20260301)
    relay, node = stack.relay(), stack.query_node("q1")
    workload = Workload(crm, tenant[0], seed=3)
    done = threading.Event()
    failure: list[BaseException] = []

    def issue_commands() -> None:
        try:
            workload.register(CUSTOMERS)
            workload.run(COMMANDS, per_second=PACE)
        except BaseException as error:  # reported by the main thread
            failure.append(error)
        finally:
            done.set()

    threading.Thread(target=issue_commands, daemon=True).start()
    working = {"relay": "relay.started", "q1": "feed.started"}
    kills = {"relay": 0, "q1": 0}
    while not done.is_set() or min(kills.values()) < KILLS_EACH:
        victim = relay if rnd.random() < 0.5 else node
        if rnd.random() < 0.85:  # mostly once it is at work, sometimes while it is still starting
            wait_until(lambda: victim.logged_since_start(working[victim.name]), 120,
                       f"{victim.name} to start")
        time.sleep(rnd.uniform(0.0, 1.5))  # a random moment: mid-batch, mid-commit, mid-reset...
        victim.kill()
        kills[victim.name] += 1
        if rnd.random() < 0.3:
            time.sleep(rnd.uniform(0.1, 1.0))  # sometimes it stays down for a while
        victim.start()
    assert not failure, failure
    total = stored_events(crm)
    assert workload.commands == CUSTOMERS + COMMANDS

    wait_until(lambda: node_applied(node) >= total, 120, f"the query node to apply {total} events")
    # The last relay may still be starting (the node may have applied everything from an
    # earlier run's batches): a SIGTERM before it installed its handler would not be clean.
    wait_until(lambda: relay.logged_since_start("relay.started"), 120, "the last relay to start")
    assert node.stopped_cleanly() and relay.stopped_cleanly()
    assert relay.count("relay.stopped") == 1 and "Application shutdown complete" in node.log()

    # The relay delivered every event at least once and in order: the topic holds them all,
    # and the node never had to fetch a missing version from the event store.
    published = {e.position for e in topic_envelopes(stack)}
    assert published == {n.id for n in crm.recorder.select_notifications(start=1, limit=100_000)}
    assert node.count("feed.gap_filled") == 0
    # Every event applied exactly once: counted once, in the same transactions as the rows.
    live_path = stack.readmodel_path(node)
    assert set(applied_events(live_path).values()) == {total}
    # Row for row what a rebuild from the event store gives.
    live = snapshot(live_path)
    fresh = ReadStore(tmp_path / "from-the-event-store.duckdb")
    catch_up(crm, Projector(fresh))
    fresh.close()
    assert differences(live, snapshot(tmp_path / "from-the-event-store.duckdb")) == []
    # And the node's own rebuild (query mode: fed from Kafka, not from the log) is exact too.
    store = ReadStore(live_path)
    projector = Projector(store)
    for name in projector.projections:
        rebuild(crm, projector, name)
    store.close()
    assert differences(live, snapshot(live_path)) == []
    assert kills["relay"] >= KILLS_EACH and kills["q1"] >= KILLS_EACH
