"""The Kafka feed of a query node, in process, against messages published out of order."""

from __future__ import annotations

import logging
import threading

import pytest
from kafka import KafkaAdminClient, KafkaProducer

from commands.settings import Settings
from readmodels.store import ReadStore
from tests.streaming.conftest import wait_until
from tests.streaming.readmodels import differences, snapshot
from tests.streaming.workload import Workload
from workers import kafka_clients, kafka_topic
from workers.kafka_feed import KafkaFeed
from workers.projector import Projector, catch_up, read_log

pytestmark = pytest.mark.kafka


def test_an_event_arriving_before_its_predecessors_has_them_filled_from_the_event_store(
        crm, tenant, kafka_broker, tmp_path, caplog):
    settings = Settings(data_dir=tmp_path / "node", event_store=crm.event_store_url,
                        kafka_bootstrap=kafka_broker.bootstrap,
                        kafka_topic=f"crm.events.gaps-{tmp_path.name[-12:]}", kafka_partitions=2)
    workload = Workload(crm, tenant[0], seed=4)
    workload.register(10)
    workload.run(60)
    events = read_log(crm, 0, limit=10_000)
    # What a relay whose send failed half-way and was retried could leave in a partition:
    # one customer's version 3 before its version 2, then 2 and 3 again.
    stream = next(e.stream for e in events if e.version == 3)
    _, second, third = [e for e in events if e.stream == stream][:3]
    published = []
    for e in events:
        if e is not second:
            published.append(e)
        if e is third:
            published += [second, third]

    admin = KafkaAdminClient(**kafka_clients.admin(settings, "test"))
    kafka_topic.ensure(admin, settings.kafka_topic, 2, 1)
    admin.close()
    producer = KafkaProducer(**kafka_clients.producer(settings))
    for e in published:
        producer.send(settings.kafka_topic, key=e.stream.encode(), value=e.to_json(), headers=e.headers())
    producer.flush()
    producer.close()

    store = ReadStore(settings.readmodel_path)
    feed = KafkaFeed(settings, crm, Projector(store))
    with caplog.at_level(logging.WARNING, logger="crm.feed"):
        feed.start()
        try:
            wait_until(lambda: store.position(next(iter(feed.projector.projections))) ==
                       max(e.position for e in events) and feed.lag == 0, 120, "the feed to drain the topic")
        finally:
            feed.stop()
    store.close()
    assert [r for r in caplog.records if r.getMessage() == "feed.gap_filled"]

    fresh = ReadStore(tmp_path / "rebuilt.duckdb")
    catch_up(crm, Projector(fresh))
    fresh.close()
    assert differences(snapshot(settings.readmodel_path), snapshot(tmp_path / "rebuilt.duckdb")) == []
