"""Competing consumers: work that must happen once per event, shared by a consumer group.

Every worker of the group subscribes to the topic; Kafka gives each partition
to exactly one of them and moves partitions when a worker joins, leaves or
stops heart-beating (a crash is noticed within the 6 s session timeout). A
partition's offsets are committed only after the handler finished every
record up to them, so a worker that dies mid-batch leaves the rest to the
next owner: each event is handled at least once, and handlers make that
exactly once in effect (the automation policies derive ids from the event).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import kafka.errors as errors
from kafka import KafkaConsumer, OffsetAndMetadata
from kafka.consumer.subscription_state import ConsumerRebalanceListener

from commands.settings import Settings
from projections.envelope import Envelope
from workers import kafka_clients
from workers.lifecycle import Backoff, Heartbeat
from workers.logs import emit

log = logging.getLogger("crm.group")

Handler = Callable[[Envelope], None]


class _Rebalance(ConsumerRebalanceListener):
    """Logs every change of this worker's share of the partitions."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.assigned: list[int] = []

    def on_partitions_revoked(self, revoked) -> None:
        if revoked:
            emit(log, "group.revoked", group=self.group, partitions=sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned) -> None:
        self.assigned = sorted(tp.partition for tp in assigned)
        emit(log, "group.assigned", group=self.group, partitions=self.assigned)


class GroupRunner:
    def __init__(self, settings: Settings, group: str, handle: Handler,
                 stopping: threading.Event | None = None, heartbeat: Heartbeat | None = None) -> None:
        self.settings = settings
        self.group = group
        self.handle = handle
        self.stopping = stopping or threading.Event()
        self.heartbeat = heartbeat or Heartbeat(None)
        self.handled = 0

    def run(self) -> None:
        backoff = Backoff()
        while not self.stopping.is_set():
            try:
                self.session(backoff)
            except Exception as error:  # the broker, or a handler's store, is down: retry
                wait = backoff.next()
                emit(log, "group.retry", logging.WARNING, group=self.group, error=repr(error),
                     retry_in_s=wait)
                self.heartbeat.wait(self.stopping, wait)
        emit(log, "group.stopped", group=self.group, handled=self.handled)

    def session(self, backoff: Backoff) -> None:
        consumer = KafkaConsumer(**kafka_clients.consumer(self.settings, "worker", self.group))
        listener = _Rebalance(self.group)
        consumer.subscribe([self.settings.kafka_topic], listener=listener)
        try:
            while not self.stopping.is_set():
                self.heartbeat.beat()
                records = consumer.poll(timeout_ms=500)
                for tp, batch in records.items():
                    for record in batch:
                        self.handle(Envelope.from_json(record.value))
                        self.handled += 1
                    self._commit(consumer, tp, batch[-1].offset + 1)
                    backoff.reset()
        finally:
            # Leaving the group (rather than timing out) hands the partitions over at once.
            consumer.close(autocommit=False)

    def _commit(self, consumer: KafkaConsumer, tp, offset: int) -> None:
        try:
            consumer.commit({tp: OffsetAndMetadata(offset, "", -1)})
        except errors.CommitFailedError as error:
            # The partition moved to another worker meanwhile; it redoes the uncommitted
            # records, which the handlers recognise as done.
            emit(log, "group.commit_failed", logging.WARNING, group=self.group,
                 partition=tp.partition, offset=offset, error=repr(error))
