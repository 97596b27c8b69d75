"""The PostgreSQL event recorder: the library's, except that a large insert leaves pipeline mode.

The library sends a save as one pipeline (lock the table, notify, insert the
events, sync). With a large insert — a campaign launched to 12,000 recipients
queues 12,000 messages in one transaction, and the demo shop saves its
campaigns that way — psycopg 3.3 waited forever in ``Pipeline.sync`` while
PostgreSQL waited for the rest of the query (``ClientRead``): the same
deadlock as psycopg issue #685 (tests/test_event_recorder.py). Above
``PIPELINED_BYTES`` of event state the statements go one after the other in an
ordinary transaction instead: a few more round trips (about a millisecond
here) on a commit that big, the same table lock, notification and ids. Small
commits, the usual case, keep the library's single round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry

# Taken by every process before it creates its tables (this recorder's, workers/store_table.py).
CREATING_TABLES_LOCK = "SELECT pg_advisory_xact_lock(hashtext('craved-crm: creating tables'))"

# The event state a pipelined insert may carry. Saves of 4,000 customer events and a launch
# to 6,000 recipients went through in the pipeline; 20,000 events, or a launch to 12,000,
# hung. This stays far below all of them.
PIPELINED_BYTES = 256 * 1024


class EventRecorder(PostgresApplicationRecorder):
    def create_table(self) -> None:
        """The library's, one process at a time.

        PostgreSQL does not serialize two sessions' ``CREATE ... IF NOT EXISTS`` (or
        ``CREATE OR REPLACE FUNCTION``) of the same object: the slower fails ("duplicate key
        value violates unique constraint pg_type_typname_nsp_index", "tuple concurrently
        updated", "relation already exists"), and two workers started together on a new
        store crashed one of them. The lock is held in a transaction of its own while the
        library creates everything in others; the next process then finds it all there."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(CREATING_TABLES_LOCK)
            super().create_table()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if sum(len(event.state) for event in stored_events) <= PIPELINED_BYTES:
            return super().insert_events(stored_events, **kwargs)
        return self._insert_without_pipeline(stored_events, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_without_pipeline(self, stored_events: Sequence[StoredEvent],
                                 **kwargs: Any) -> Sequence[int] | None:
        with self.datastore.get_connection() as connection, connection.transaction(), \
                connection.cursor() as cursor:
            self._insert_events(cursor, stored_events, **kwargs)
            self._insert_stored_events(cursor, stored_events, **kwargs)  # lock, notify, insert
            return self._fetch_ids_after_insert_events(cursor, stored_events, **kwargs)
