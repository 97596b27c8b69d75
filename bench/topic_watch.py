"""When each aggregate's event reached the broker, seen from the bench: splits the end-to-end
time into the relay's part (201 → on the topic) and the query node's (on the topic → visible).

A plain consumer without a group (assigned every partition, from the end), polling with a
short fetch wait so its own delay stays small next to what it measures. Its arrival time
includes its own fetch, so "on the topic" is an upper bound by a few milliseconds.
"""

from __future__ import annotations

import threading
import time

from kafka import KafkaConsumer, TopicPartition


class TopicWatch(threading.Thread):
    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(name="bench-topic-watch", daemon=True)
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                      enable_auto_commit=False, fetch_max_wait_ms=10,
                                      client_id="bench-topic-watch")
        partitions = self.consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        self.consumer.assign(assigned)
        self.consumer.seek_to_end(*assigned)
        for partition in assigned:  # resolve the end offsets now, not at the first poll
            self.consumer.position(partition)
        self.arrived: dict[str, float] = {}  # aggregate id -> perf_counter() of its first event seen
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            batches = self.consumer.poll(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    if record.key is not None:
                        self.arrived.setdefault(record.key.decode(), now)

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=10)
        self.consumer.close()
