"""Several aggregates read in one query, straight from the event store's table.

The library reads one aggregate per query. A command about thousands of
customers (a campaign launch checks every recipient's consent) or a job that
decides about hundreds of aggregates at once (workers/segment_entries.py)
would pay a round trip per aggregate; here it is one query per
``CHUNK`` aggregates. The rows carry their notification ids too, which is
what the log followers need (workers/aggregate_events.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.persistence import StoredEvent

if TYPE_CHECKING:
    from commands.application import Crm

CHUNK = 1000  # aggregates per query
NO_LIMIT = 2**62


def stored_rows(crm: Crm, ids: list[UUID], gt: int = 0, lte: int = NO_LIMIT) -> list:
    """(id, originator_id, originator_version, topic, state) rows of ``ids`` with
    ``gt < version <= lte``, by aggregate then version."""
    rows: list = []
    for start in range(0, len(ids), CHUNK):
        rows += _chunk(crm, ids[start:start + CHUNK], gt, lte)
    return rows


def _chunk(crm: Crm, ids: list[UUID], gt: int, lte: int) -> list:
    table = crm.events_table
    columns = "originator_id, originator_version, topic, state"
    with crm.recorder.datastore.transaction(commit=False) as cursor:
        if crm.on_postgres:
            cursor.execute(
                f'SELECT notification_id AS id, {columns} '
                f'FROM {table} WHERE originator_id = ANY(%s) '
                'AND originator_version > %s AND originator_version <= %s '
                'ORDER BY originator_id, originator_version', (ids, gt, lte))
        else:  # SQLite keeps the id as hex text and the notification id as the rowid
            marks = ", ".join("?" * len(ids))
            cursor.execute(
                f"SELECT rowid AS id, {columns} FROM {table} WHERE originator_id IN ({marks}) "
                "AND originator_version > ? AND originator_version <= ? "
                "ORDER BY originator_id, originator_version", (*(i.hex for i in ids), gt, lte))
        return cursor.fetchall()


def _uuid(value) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def current_aggregates(crm: Crm, ids: list[UUID]) -> dict:
    """The current state of each of ``ids`` that has events (built from all its events, as the
    repository does for an aggregate without snapshots)."""
    found: dict = {}
    for row in stored_rows(crm, ids):
        key = _uuid(row["originator_id"])
        event = crm.mapper.to_domain_event(StoredEvent(
            originator_id=key, originator_version=row["originator_version"],
            topic=row["topic"], state=bytes(row["state"])))
        found[key] = event.mutate(found.get(key))
    return found
