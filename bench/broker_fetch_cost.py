"""What the test broker costs to follow a long topic: Tansu's CPU at a low, steady rate.

    python -m bench.broker_fetch_cost MESSAGES [BATCH_BYTES]

Fills a 6-partition topic on a new Tansu broker with MESSAGES messages of 600
bytes, produced in record batches of at most BATCH_BYTES (1,000 by default:
about one message a batch, as the relay's events arrive; 262,144 for large
batches), then for 20 s produces 20 messages/s while one consumer follows the
tail the way a query node does (every partition, no group, 200 ms fetch wait),
and prints the broker's CPU cores. Measured 2026-11-26: 300,000 one-message
batches 0.59 cores; the same in large batches 0.03 (and 0.01 in an ad hoc run
without the consumer). So on Tansu's in-memory storage a fetch costs in
proportion to the batches the topic holds, and at the medium scale the
end-to-end runs' broker takes about a core from the nodes being measured;
Apache Kafka finds a fetch's offset through an index.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from bench.broker import Broker
from bench.cpu import process_seconds

TOPIC, PARTITIONS, VALUE = "fetch-cost", 6, b"x" * 600
SECONDS, RATE = 20.0, 20


def main(messages: int, batch_bytes: int = 1_000) -> None:
    with tempfile.TemporaryDirectory(prefix="crm-bench-broker-") as work:
        broker = Broker(Path(work) / "tansu.log")
        try:
            admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
            admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
            admin.close()
            producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=0,
                                     batch_size=batch_bytes, acks="all")
            for i in range(messages):
                producer.send(TOPIC, key=str(i % 5000).encode(), value=VALUE)
            producer.flush()
            consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, fetch_max_wait_ms=200,
                                     enable_auto_commit=False)
            partitions = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
            consumer.assign(partitions)
            consumer.seek_to_end()
            for partition in partitions:
                consumer.position(partition)
            stop_at = time.monotonic() + SECONDS

            def follow() -> None:
                while time.monotonic() < stop_at + 1:
                    consumer.poll(timeout_ms=500)

            follower = threading.Thread(target=follow)
            follower.start()
            used, started = process_seconds(broker.process.pid), time.monotonic()
            while time.monotonic() < stop_at:
                producer.send(TOPIC, value=VALUE)
                producer.flush()
                time.sleep(1 / RATE)
            follower.join()
            cores = (process_seconds(broker.process.pid) - used) / (time.monotonic() - started)
            print(f"{messages:,} messages in batches of at most {batch_bytes:,} bytes: the broker "
                  f"used {cores:.2f} cores while {RATE}/s were produced and followed")
            consumer.close()
            producer.close()
        finally:
            broker.stop()


if __name__ == "__main__":
    if not 2 <= len(sys.argv) <= 3:
        sys.exit(__doc__)
    main(*(int(a) for a in sys.argv[1:]))
