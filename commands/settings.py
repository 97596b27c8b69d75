"""Configuration from ``CRM_*`` environment variables, with embedded-mode defaults.

Nothing is required on a fresh machine: the event store defaults to an SQLite
file and the read models to a DuckDB file, both under ``CRM_DATA_DIR``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default) or default


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(_env("CRM_DATA_DIR", "./data")))
    event_store: str = field(default_factory=lambda: os.environ.get("CRM_EVENT_STORE", ""))
    kafka_bootstrap: str = field(default_factory=lambda: os.environ.get("CRM_KAFKA_BOOTSTRAP", ""))
    kafka_topic: str = field(default_factory=lambda: _env("CRM_KAFKA_TOPIC", "crm.events"))
    kafka_partitions: int = field(default_factory=lambda: int(_env("CRM_KAFKA_PARTITIONS", "6")))
    # Replicas of the events topic when the relay creates it (3 on a production cluster).
    kafka_replication: int = field(default_factory=lambda: int(_env("CRM_KAFKA_REPLICATION", "1")))
    # The consumer group the automation workers share (competing consumers).
    automation_group: str = field(
        default_factory=lambda: _env("CRM_AUTOMATION_GROUP", "crm-automation"))
    node_name: str = field(default_factory=lambda: _env("CRM_NODE_NAME", "embedded"))
    # How long a query carrying X-Consistency-Token may wait for its read model.
    consistency_timeout: float = field(
        default_factory=lambda: float(_env("CRM_CONSISTENCY_TIMEOUT", "5")))
    # How long a node following the log waits, as it starts, for its read models to reach the
    # event store's head before it serves anyway (a restart after a crash, the demo just loaded).
    startup_catch_up: float = field(
        default_factory=lambda: float(_env("CRM_STARTUP_CATCH_UP", "60")))
    # How long a node trusts an API key it has checked (a revocation elsewhere waits this long).
    auth_cache_seconds: float = field(
        default_factory=lambda: float(_env("CRM_AUTH_CACHE_SECONDS", "10")))
    group_commit: bool = field(default_factory=lambda: _env("CRM_GROUP_COMMIT", "1") != "0")
    max_body_bytes: int = field(default_factory=lambda: int(_env("CRM_MAX_BODY_BYTES", "1048576")))
    # Operators' token for /v1/admin routes (projection status, rebuilds); empty disables them.
    admin_token: str = field(default_factory=lambda: os.environ.get("CRM_ADMIN_TOKEN", ""))

    @property
    def event_store_url(self) -> str:
        return self.event_store or f"sqlite:///{(self.data_dir / 'events.sqlite3').resolve()}"

    @property
    def readmodel_path(self) -> Path:
        return self.data_dir / "readmodels.duckdb"
