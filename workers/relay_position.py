"""Where the relay got to, kept in the event store's own database (workers/store_table.py).

One row per topic: the id of the topic incarnation the relay publishes to and
the last notification id the broker acknowledged. The row is written only after the broker acknowledged everything up to that
position, so a crash can only cause re-publishing (which consumers dedupe),
never a gap.
"""

from __future__ import annotations

from datetime import datetime, timezone

from commands.application import Crm
from workers.store_table import StoreTable

TABLE = "crm_relay_positions"


class RelayPosition:
    def __init__(self, crm: Crm, topic: str) -> None:
        self.topic = topic
        self.table = StoreTable(crm, TABLE, "topic TEXT PRIMARY KEY, topic_id TEXT NOT NULL, "
                                            "position BIGINT NOT NULL, updated_at TEXT NOT NULL")

    def load(self) -> tuple[str | None, int]:
        """(topic id, position) as last saved; (None, 0) before the first publish."""
        with self.table.transaction(commit=False) as cursor:
            cursor.execute(self.table.sql(
                f"SELECT topic_id, position FROM {self.table.name} WHERE topic = ?"),
                           (self.topic,))
            row = cursor.fetchone()
        return (row["topic_id"], row["position"]) if row else (None, 0)

    def save(self, topic_id: str, position: int) -> None:
        with self.table.transaction(commit=True) as cursor:
            cursor.execute(self.table.sql(
                f"INSERT INTO {self.table.name} (topic, topic_id, position, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (topic) DO UPDATE SET topic_id = excluded.topic_id, "
                "position = excluded.position, updated_at = excluded.updated_at"),
                (self.topic, topic_id, position, datetime.now(timezone.utc).isoformat()))
