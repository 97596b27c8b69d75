"""When each aggregate's event reached the broker, seen from outside the nodes: splits the
end-to-end time into the relay's part (201 → on the topic) and the query node's (on the topic →
visible).

A plain consumer without a group (assigned every partition, from the end), in a process of its
own: in the bench's process it would wait for the interpreter lock behind the load generator and
see events late. It waits up to 50 ms per fetch: with 10 ms it recorded no event at all at the
medium scale (two runs, 2M events in the topic), with 50 ms 60-99 per rate there; with the query
node's 200 ms it saw up to a third of the events on the small shop only after the node had shown
them (Tansu does not always answer a waiting fetch at once). Each line it writes is
``aggregate-id<TAB>time.monotonic()``; the monotonic clock (CLOCK_MONOTONIC) is shared by every
process of the machine, and the load generator stamps with the same clock. Its arrival time
includes its own fetch, so "on the topic" is an upper bound by a few milliseconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class TopicWatch:
    def __init__(self, bootstrap: str, topic: str, out: Path) -> None:
        self.out = out
        self.process = subprocess.Popen([sys.executable, "-m", "bench.topic_watch", bootstrap, topic,
                                         str(out)], stdout=subprocess.PIPE)
        self.priority = _raise_priority(self.process.pid)
        ready = self.process.stdout.readline()  # "ready" once assigned at the end of every partition
        if ready.strip() != b"ready":
            self.stop()
            raise RuntimeError("the topic watch did not start")

    def arrivals(self) -> dict[str, float]:
        """aggregate id -> when its first event since the start was seen."""
        seen: dict[str, float] = {}
        if self.out.exists():
            for line in self.out.read_text().splitlines():
                key, _, at = line.partition("\t")
                if at:
                    seen.setdefault(key, float(at))
        return seen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _raise_priority(pid: int, niceness: int = -10) -> int:
    """The watch is an instrument: on two shared cores a starved watch stamps arrivals late
    and charges the relay for it. Above the measured processes it runs when a message arrives;
    it uses little CPU, so it takes little from them. Needs root (CAP_SYS_NICE); returns the
    niceness it got, 0 if it could not."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, niceness)
    except PermissionError:
        return 0
    return niceness


def main(bootstrap: str, topic: str, out: str) -> None:
    from kafka import KafkaConsumer, TopicPartition

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             fetch_max_wait_ms=50, client_id="bench-topic-watch")
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    consumer.seek_to_end(*partitions)
    for partition in partitions:  # resolve the end offsets now, not at the first poll
        consumer.position(partition)
    print("ready", flush=True)
    with open(out, "a") as lines:
        while not stopping:
            batches = consumer.poll(timeout_ms=100)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    if record.key is not None:
                        lines.write(f"{record.key.decode()}\t{now}\n")
            lines.flush()
    consumer.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
