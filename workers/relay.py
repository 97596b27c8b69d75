"""The relay: publishes every stored event to Kafka, in log order, at least once.

It follows the event store's notification log from its saved position,
publishes each event as its envelope (JSON value, aggregate id as key, so one
aggregate's events share a partition and keep their order; type and tenant also
as headers), waits until the broker acknowledged the whole batch, and only then
saves the position. A crash before the save re-publishes the batch; consumers
recognise the repeats by aggregate version. Nothing is skipped: a failed batch
is retried, with backoff, until the broker takes it.

If the topic is missing it is created. If it was replaced (deleted and created
again: a new topic id), the old messages are gone, so the relay starts again
from position 0 and the new topic again holds the whole log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from eventsourcing.persistence import Notification
from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaTimeoutError

from commands.application import Crm
from commands.settings import Settings
from projections.envelope import from_event
from workers import kafka_clients, kafka_topic
from workers.lifecycle import Backoff, Heartbeat, freeze_start_up, stop_on_signals
from workers.log_follower import LogFollower
from workers.logs import emit
from workers.relay_position import RelayPosition

log = logging.getLogger("crm.relay")

BATCH = 500               # notifications per publish-and-acknowledge round
TOPIC_CHECK_EVERY = 5.0   # seconds between checks that the topic is still the same one


class Stopped(Exception):
    """SIGTERM arrived while a batch was in flight: leave it unacknowledged (it is re-sent)."""


class TopicReplaced(Exception):
    """The topic disappeared or is a new incarnation: start a new session."""


class Relay:
    def __init__(self, crm: Crm, settings: Settings, stopping: threading.Event | None = None,
                 heartbeat: Heartbeat | None = None) -> None:
        self.crm = crm
        self.settings = settings
        self.topic = settings.kafka_topic
        self.stopping = stopping or threading.Event()
        self.heartbeat = heartbeat or Heartbeat(None)
        self.position = RelayPosition(crm, self.topic)
        self.failures = 0      # sessions that ended in an error (for operators and tests)
        self.published = 0     # events acknowledged since start

    def run(self) -> None:
        """Publishes until ``stopping`` is set; every error is logged and retried with backoff."""
        backoff = Backoff()
        while not self.stopping.is_set():
            try:
                self.session(backoff)
            except (Stopped, TopicReplaced):
                continue
            except Exception as error:
                self.failures += 1
                wait = backoff.next()
                emit(log, "relay.retry", logging.WARNING, error=repr(error), retry_in_s=wait,
                     failures=self.failures)
                self.heartbeat.wait(self.stopping, wait)
        emit(log, "relay.stopped", published=self.published)

    def session(self, backoff: Backoff) -> None:
        """Connects, checks the topic, then publishes batches until an error or SIGTERM."""
        admin = KafkaAdminClient(**kafka_clients.admin(self.settings, "relay"))
        producer = None
        follower = None
        try:
            topic = kafka_topic.ensure(admin, self.topic, self.settings.kafka_partitions,
                                       self.settings.kafka_replication)
            topic_id, position = self._resume(topic)
            producer = KafkaProducer(**kafka_clients.producer(self.settings))
            follower = LogFollower(self.crm, position)
            emit(log, "relay.started", topic=self.topic, topic_id=topic_id, position=position,
                 partitions=len(topic.partitions))
            checked = reported = time.monotonic()
            while not self.stopping.is_set():
                self.heartbeat.beat()
                batch = follower.next_batch(BATCH, wait=1.0)
                if batch:
                    self._publish(producer, batch)
                    self.position.save(topic_id, batch[-1].id)
                    self.published += len(batch)
                    backoff.reset()
                    reported = self._report(reported, batch[-1].id)
                if time.monotonic() - checked > TOPIC_CHECK_EVERY:
                    self._check_same_topic(admin, topic_id)
                    checked = time.monotonic()
        finally:
            if follower is not None:
                follower.close()
            if producer is not None:
                producer.close(timeout=1 if self.stopping.is_set() else 5)
            admin.close()

    def _report(self, since: float, position: int) -> float:
        """One progress line every few seconds, not one per batch."""
        if time.monotonic() - since < TOPIC_CHECK_EVERY:
            return since
        emit(log, "relay.published", total=self.published, position=position)
        return time.monotonic()

    def _resume(self, topic: kafka_topic.TopicInfo) -> tuple[str, int]:
        saved_id, position = self.position.load()
        if saved_id is not None and saved_id != topic.id:
            emit(log, "relay.topic_replaced", logging.WARNING, topic=self.topic, old_topic_id=saved_id,
                 new_topic_id=topic.id, republish_from=0, was_at=position)
            position = 0
        if saved_id != topic.id:
            self.position.save(topic.id, position)
        return topic.id, position

    def _check_same_topic(self, admin: KafkaAdminClient, topic_id: str) -> None:
        now = kafka_topic.describe(admin, self.topic)
        if now is None or now.id != topic_id:
            emit(log, "relay.topic_lost", logging.WARNING, topic=self.topic, topic_id=topic_id,
                 now=now.id if now else None)
            raise TopicReplaced(self.topic)

    def _publish(self, producer: KafkaProducer, batch: Sequence[Notification]) -> None:
        """Sends the batch and returns once the broker acknowledged every message of it."""
        futures = []
        for notification in batch:
            envelope = from_event(self.crm.mapper.to_domain_event(notification), notification.id)
            futures.append(producer.send(self.topic, key=envelope.stream.encode(),
                                         value=envelope.to_json(), headers=envelope.headers()))
        while not all(future.is_done for future in futures):
            if self.stopping.is_set():
                raise Stopped()
            try:
                producer.flush(timeout=1.0)
            except KafkaTimeoutError:
                self.heartbeat.beat()  # still trying; the batch's delivery timeout bounds this
        for future in futures:
            future.get()  # raises the first delivery error: the batch is not acknowledged


def main(settings: Settings) -> None:
    """``crm relay``: runs until SIGTERM."""
    if not settings.kafka_bootstrap:
        raise SystemExit("crm relay needs CRM_KAFKA_BOOTSTRAP (the Kafka bootstrap servers)")
    stopping = stop_on_signals()
    crm = Crm(settings.event_store_url, group_commit=False)
    freeze_start_up()
    try:
        Relay(crm, settings, stopping, Heartbeat(Path(settings.data_dir) / "relay.alive")).run()
    finally:
        crm.close()
