"""The Kafka feed of a query node: the whole topic into this node's read models.

A query node consumes every partition itself (manual assignment, no consumer
group), because each node keeps a complete copy of the read models. Offsets
live in the node's DuckDB file, written in the same transaction as the rows of
the batch (``Projector.apply(..., also=...)``), so after a crash the node
resumes exactly where its rows are. Redelivered and re-published events are
skipped by aggregate version.

Two guards keep the per-aggregate invariant every rebuild relies on (the
tables hold exactly versions 1..n of each aggregate):

* a version that arrives ahead of the next expected one (a message published
  out of order after a failed send) has the missing versions fetched from the
  event store and applied first;
* when Kafka can no longer be trusted to hold what the node has not read (the
  topic vanished or was replaced, offsets out of range, history trimmed), the
  node says so in one ``feed.reset`` line, catches its read models up from the
  event store itself (the source of truth), and then continues from the
  earliest offsets of the topic, relying on version dedupe. It never skips.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import kafka.errors as errors
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from commands.application import Crm
from commands.settings import Settings
from projections.envelope import Envelope
from workers import kafka_clients, kafka_topic
from workers.aggregate_events import aggregate_envelopes
from workers.lifecycle import Backoff
from workers.logs import emit
from workers.projector import Projector, read_log

log = logging.getLogger("crm.feed")

POLL_RECORDS = 2000
TOPIC_CHECK_EVERY = 5.0  # seconds between checks that the topic is still the one the offsets belong to


class ResetNeeded(Exception):
    """Kafka no longer holds everything after this node's offsets."""


class KafkaFeed(threading.Thread):
    def __init__(self, settings: Settings, crm: Crm, projector: Projector) -> None:
        super().__init__(name="kafka-feed", daemon=True)
        self.settings = settings
        self.crm = crm
        self.projector = projector
        self.store = projector.store
        self.topic = settings.kafka_topic
        self.stopping = threading.Event()
        self.state = "starting"
        self.lag: int | None = None          # events in Kafka not yet applied (from fetch high-water marks)
        self.resets = 0
        self.position = self.store.position(next(iter(projector.projections)))
        self._offsets: dict[int, int] = {}   # next offset per partition, as committed

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self) -> None:
        backoff = Backoff()
        while not self.stopping.is_set():
            try:
                self._session(backoff)
            except Exception as error:
                wait = backoff.next()
                self.state = "retrying"
                emit(log, "feed.retry", logging.WARNING, error=repr(error), retry_in_s=wait)
                self.stopping.wait(wait)
        self.state = "stopped"

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)

    def health(self) -> dict:
        return {"state": self.state, "lag": self.lag, "resets": self.resets, "topic": self.topic}

    # -- one connection to the cluster -------------------------------------------------------

    def _session(self, backoff: Backoff) -> None:
        admin = KafkaAdminClient(**kafka_clients.admin(self.settings, "feed"))
        consumer = KafkaConsumer(**kafka_clients.consumer(self.settings, "feed"))
        try:
            topic = self._start(admin, consumer)
            if topic is None:
                return
            backoff.reset()
            self.state = "running"
            checked = time.monotonic()
            while not self.stopping.is_set():
                try:
                    records = consumer.poll(timeout_ms=500, max_records=POLL_RECORDS)
                    if records:
                        self._apply(topic, records)
                    self._check_range(consumer)
                    if time.monotonic() - checked > TOPIC_CHECK_EVERY:
                        if not self._same_topic(admin, topic):
                            return  # partitions were added: a new session assigns them all
                        checked = time.monotonic()
                except (errors.OffsetOutOfRangeError, errors.NoOffsetForPartitionError) as error:
                    raise ResetNeeded(f"offsets out of range: {error!r}") from None
        except ResetNeeded as why:
            self._reset(admin, consumer, str(why))
        finally:
            consumer.close(autocommit=False)
            admin.close()

    def _start(self, admin: KafkaAdminClient, consumer: KafkaConsumer) -> kafka_topic.TopicInfo | None:
        """Checks the stored offsets against the topic, then assigns and seeks every partition."""
        topic = kafka_topic.describe(admin, self.topic)
        topic_id, offsets = self.store.kafka_offsets(self.topic)
        if topic is None or not topic.partitions:
            if offsets:
                raise ResetNeeded("the topic disappeared")
            if self.state != "waiting for the topic":  # said once, not every second
                emit(log, "feed.waiting_for_topic", topic=self.topic)
            self.state = "waiting for the topic"
            self.stopping.wait(1.0)
            return None
        partitions = [TopicPartition(self.topic, p) for p in topic.partitions]
        if offsets and topic_id != topic.id:
            raise ResetNeeded(f"the topic was replaced (id {topic_id} -> {topic.id})")
        earliest = consumer.beginning_offsets(partitions)
        for tp in partitions:
            if offsets.get(tp.partition, 0) < earliest[tp]:
                raise ResetNeeded(f"partition {tp.partition} starts at {earliest[tp]}, after the "
                                  f"node's offset {offsets.get(tp.partition, 0)} (history trimmed)")
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, offsets.get(tp.partition, 0))
        self._offsets = {p: offsets.get(p, 0) for p in topic.partitions}
        emit(log, "feed.started", topic=self.topic, topic_id=topic.id, offsets=self._offsets,
             position=self.position)
        return topic

    # -- applying a batch --------------------------------------------------------------------

    def _apply(self, topic: kafka_topic.TopicInfo, records: dict) -> None:
        batch = [Envelope.from_json(r.value) for rs in records.values() for r in rs]
        offsets = {tp.partition: rs[-1].offset + 1 for tp, rs in records.items()}
        batch = self._fill_gaps(batch)
        position = max(self.position, max(e.position for e in batch))
        record = self._record_offsets(topic, offsets)
        self.projector.apply(batch, position, also=record)
        self.position = position
        self._offsets.update(offsets)

    def _record_offsets(self, topic: kafka_topic.TopicInfo, offsets: dict[int, int]) -> Callable:
        return lambda cursor: self.store.record_offsets(cursor, self.topic, topic.id, offsets)

    def _fill_gaps(self, batch: list[Envelope]) -> list[Envelope]:
        """Puts any versions missing before an event (from the event store) in front of it."""
        known = self.store.applied_versions(self.store.reader(), {e.aggregate_id for e in batch})
        filled: list[Envelope] = []
        for e in batch:
            have = known.get(e.aggregate_id, 0)
            if e.version > have + 1:
                missing = aggregate_envelopes(self.crm, e.aggregate_id, have, e.version - 1)
                emit(log, "feed.gap_filled", logging.WARNING, aggregate=e.stream, had=have,
                     received=e.version, fetched=len(missing))
                filled += missing
            filled.append(e)
            known[e.aggregate_id] = max(have, e.version)
        return filled

    # -- noticing that Kafka lost something ---------------------------------------------------

    def _check_range(self, consumer: KafkaConsumer) -> None:
        """Updates the lag; an offset past the partition's end means the log was truncated."""
        lag = 0
        for partition, offset in self._offsets.items():
            end = consumer.highwater(TopicPartition(self.topic, partition))
            if end is None:
                continue
            if offset > end:
                raise ResetNeeded(f"partition {partition} ends at {end}, before the node's offset {offset}")
            lag += end - offset
        self.lag = lag

    def _same_topic(self, admin: KafkaAdminClient, topic: kafka_topic.TopicInfo) -> bool:
        """False if partitions were added; raises if the topic is gone or was replaced."""
        now = kafka_topic.describe(admin, self.topic)
        if now is None or not now.partitions:
            raise ResetNeeded("the topic disappeared")
        if now.id != topic.id:
            raise ResetNeeded(f"the topic was replaced (id {topic.id} -> {now.id})")
        return now.partitions == topic.partitions

    def _reset(self, admin: KafkaAdminClient, consumer: KafkaConsumer, reason: str) -> None:
        """Catches up from the event store, then starts over at the topic's earliest offsets."""
        self.resets += 1
        self.state = "resetting"
        self.lag = None
        emit(log, "feed.reset", logging.ERROR, topic=self.topic, reason=reason,
             action="catching up from the event store, then consuming from the earliest offsets")
        applied = 0
        position = 0
        while not self.stopping.is_set() and (batch := read_log(self.crm, position)):
            position = batch[-1].position
            self.position = max(self.position, position)
            applied += self.projector.apply(batch, self.position)
        if self.stopping.is_set():
            return  # the offsets still say "reset": the next start does it again
        topic = kafka_topic.describe(admin, self.topic)
        earliest: dict[int, int] = {}
        if topic is not None and topic.partitions:
            partitions = [TopicPartition(self.topic, p) for p in topic.partitions]
            earliest = {tp.partition: offset
                        for tp, offset in consumer.beginning_offsets(partitions).items()}
        with self.store.transaction() as cursor:
            self.store.reset_offsets(cursor, self.topic, topic.id if topic else None, earliest)
        emit(log, "feed.reset_done", topic=self.topic, applied_from_event_store=applied,
             position=self.position, topic_id=topic.id if topic else None, offsets=earliest)
