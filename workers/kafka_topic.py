"""The events topic: does it exist, which incarnation is it, create it if missing.

A topic that is deleted and created again under the same name is a different
topic: its offsets start again at 0 and it holds none of the old messages.
Kafka gives each incarnation its own topic id (KIP-516), so the relay and the
query nodes remember the id next to their positions and notice a replaced
topic instead of mistaking its offsets for the old ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import kafka.errors as errors
from kafka import KafkaAdminClient

RETAIN_FOREVER = {"retention.ms": "-1", "cleanup.policy": "delete"}


@dataclass(frozen=True)
class TopicInfo:
    name: str
    id: str            # "" when the broker does not report topic ids (Kafka < 2.8)
    partitions: tuple[int, ...]


def describe(admin: KafkaAdminClient, name: str) -> TopicInfo | None:
    """The topic as the cluster knows it now, or None if it does not exist."""
    [topic] = admin.describe_topics([name])
    if topic["error_code"] == errors.UnknownTopicOrPartitionError.errno:
        return None
    if topic["error_code"]:
        raise errors.for_code(topic["error_code"])(f"describing topic {name}")
    partitions = tuple(sorted(p["partition_index"] for p in topic["partitions"]))
    topic_id = str(topic.get("topic_id") or "")
    if topic_id == "00000000-0000-0000-0000-000000000000":
        topic_id = ""
    return TopicInfo(name, topic_id, partitions)


def ensure(admin: KafkaAdminClient, name: str, partitions: int, replication: int) -> TopicInfo:
    """Creates the topic (kept forever: it is the replayable copy of the log) unless it exists."""
    found = describe(admin, name)
    if found is not None and found.partitions:
        return found
    try:
        admin.create_topics({name: {"num_partitions": partitions, "replication_factor": replication,
                                    "configs": RETAIN_FOREVER}}, wait_for_metadata=True)
    except errors.TopicAlreadyExistsError:
        pass  # another relay (or an operator) was quicker
    created = describe(admin, name)
    if created is None or not created.partitions:
        raise errors.KafkaError(f"topic {name} was created but is not visible yet")
    return created
