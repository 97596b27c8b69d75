"""How every Kafka client of Craved CRM is configured, in one place.

The settings are chosen to behave the same on Apache Kafka and on the Tansu
broker the tests run: explicit timeouts short enough that a lost broker is
noticed in seconds (and SIGTERM is honoured promptly), no automatic topic
creation (the relay creates the topic with the configured partitions), and
consumer-group timings of 6 s / 1 s so that a group forms and rebalances in
seconds rather than the 45 s default.
"""

from __future__ import annotations

from typing import Any

from commands.settings import Settings


def common(settings: Settings, client: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()],
        "client_id": f"crm-{client}-{settings.node_name}",
        "request_timeout_ms": 10_000,
        "bootstrap_timeout_ms": 5_000,
        "reconnect_backoff_max_ms": 2_000,
    }


def producer(settings: Settings) -> dict[str, Any]:
    """For the relay: acknowledged by all in-sync replicas, in order, no duplicates per session."""
    return {
        **common(settings, "relay"),
        "acks": "all",
        "enable_idempotence": True,
        # One request in flight per broker keeps per-partition order even across retries.
        "max_in_flight_requests_per_connection": 1,
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "compression_type": None,
        "max_block_ms": 10_000,
        "delivery_timeout_ms": 30_000,
        "allow_auto_create_topics": False,
    }


def consumer(settings: Settings, client: str, group_id: str | None = None) -> dict[str, Any]:
    """For query nodes (no group, manual assignment) and for group workers."""
    config: dict[str, Any] = {
        **common(settings, client),
        "group_id": group_id,
        "enable_auto_commit": False,
        "allow_auto_create_topics": False,
        "fetch_max_wait_ms": 200,
        "max_poll_records": 1000,
        "session_timeout_ms": 6_000,
        "heartbeat_interval_ms": 1_000,
    }
    if group_id is None:
        # A query node keeps its own offsets: an offset out of range must be an
        # error it handles (replay from the event store), never a silent jump.
        config["auto_offset_reset"] = "none"
    else:
        config["auto_offset_reset"] = "earliest"  # a new group starts from the first event
        config["max_poll_records"] = 200
    return config


def admin(settings: Settings, client: str) -> dict[str, Any]:
    return common(settings, f"{client}-admin")
