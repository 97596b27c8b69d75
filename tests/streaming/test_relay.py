"""The relay, in process: its position moves only after the broker acknowledged."""

from __future__ import annotations

import threading

import pytest
from kafka import KafkaConsumer, TopicPartition

from commands.settings import Settings
from projections.envelope import Envelope
from tests.streaming.conftest import Broker, wait_until
from tests.streaming.workload import Workload
from workers import kafka_clients
from workers.relay import Relay

pytestmark = pytest.mark.kafka


def topic_messages(settings: Settings) -> list:
    consumer = KafkaConsumer(**kafka_clients.consumer(settings, "test"))
    try:
        partitions = [TopicPartition(settings.kafka_topic, p)
                      for p in sorted(consumer.partitions_for_topic(settings.kafka_topic))]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        messages = []
        while batch := consumer.poll(timeout_ms=1000):
            messages += [m for ms in batch.values() for m in ms]
        return messages
    finally:
        consumer.close()


@pytest.fixture
def broker(tmp_path):
    """A broker of this test only, not started yet: the relay meets it down first."""
    broker = Broker(tmp_path / "tansu.log")
    yield broker
    broker.stop()


def test_the_relay_saves_its_position_only_after_the_broker_acknowledged(crm, tenant, broker):
    settings = Settings(event_store=crm.event_store_url, kafka_bootstrap=broker.bootstrap,
                        kafka_topic="crm.events.relay-test", kafka_partitions=3)
    workload = Workload(crm, tenant[0], seed=1)
    workload.register(30)
    relay = Relay(crm, settings)
    running = threading.Thread(target=relay.run)
    running.start()
    try:
        wait_until(lambda: relay.failures >= 1, 120, "the relay to try the broker and fail")
        assert relay.position.load() == (None, 0)  # nothing acknowledged, nothing recorded

        broker.start()
        head = crm.recorder.max_notification_id()
        wait_until(lambda: relay.position.load()[1] == head, 120, "the relay to catch up")
    finally:
        relay.stopping.set()
        running.join()

    workload.run(40)  # written while no relay runs
    restarted = Relay(crm, settings)
    running = threading.Thread(target=restarted.run)
    running.start()
    try:
        head = crm.recorder.max_notification_id()
        wait_until(lambda: restarted.position.load()[1] == head, 120, "the restarted relay to catch up")
    finally:
        restarted.stopping.set()
        running.join()

    messages = topic_messages(settings)
    envelopes = [Envelope.from_json(m.value) for m in messages]
    positions = sorted(e.position for e in envelopes)
    assert positions == sorted({n.id for n in crm.recorder.select_notifications(start=1, limit=10_000)})
    for message, envelope in zip(messages, envelopes):
        assert message.key == envelope.stream.encode()
        assert dict(message.headers)["type"] == envelope.type.encode()
        assert dict(message.headers)["tenant"] == envelope.tenant.encode()
    by_partition: dict[int, list[Envelope]] = {}
    for message, envelope in zip(messages, envelopes):
        by_partition.setdefault(message.partition, []).append(envelope)
    for partition in by_partition.values():  # log order within every partition
        assert [e.position for e in partition] == sorted(e.position for e in partition)


def test_the_log_follower_falls_back_to_polling_when_listen_fails(crm, tenant):
    """A dropped LISTEN connection (or a pooler that does not pass LISTEN) loses nothing."""
    import psycopg

    from tests.conftest import POSTGRES_URL
    from workers.log_follower import LogFollower

    workload = Workload(crm, tenant[0], seed=2)
    follower = LogFollower(crm, after=0)
    try:
        head = crm.recorder.max_notification_id()
        seen = []
        while not seen or seen[-1].id < head:
            seen += follower.next_batch(100, wait=1.0)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            listeners = admin.execute("SELECT pid FROM pg_stat_activity WHERE query ILIKE 'LISTEN %'"
                                      " AND datname = current_database()").fetchall()
            assert listeners  # it was following by LISTEN/NOTIFY
            for (pid,) in listeners:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        workload.register(5)
        head = crm.recorder.max_notification_id()
        while seen[-1].id < head:
            seen += follower.next_batch(100, wait=1.0)
    finally:
        follower.close()
    assert [n.id for n in seen] == [n.id for n in crm.recorder.select_notifications(start=1, limit=100)]
