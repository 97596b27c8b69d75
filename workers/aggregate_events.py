"""Aggregates' events read straight from the event store's table, several aggregates at a time.

The library reads one aggregate per query and without the notification ids.
Two callers need more: an envelope needs its log position (the timeline
orders by it), to fill a gap in what a query node received (a message
published out of order) and for the last step of a rebuild; and a job that
decides about hundreds of aggregates at once (workers/segment_entries.py)
would otherwise pay one round trip per aggregate.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from commands.application import Crm
from projections.envelope import Envelope
from projections.stored import stored_envelopes

_NO_LIMIT = 2**62


def _rows(crm: Crm, ids: list[UUID], gt: int, lte: int) -> list:
    """(id, originator_id, originator_version, topic, state) rows, by aggregate then version."""
    recorder = crm.recorder
    table = recorder.events_table_name
    columns = "originator_id, originator_version, topic, state"
    with recorder.datastore.transaction(commit=False) as cursor:
        if crm.on_postgres:
            cursor.execute(
                f'SELECT notification_id AS id, {columns} '
                f'FROM "{recorder.datastore.schema}"."{table}" WHERE originator_id = ANY(%s) '
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


def aggregate_envelopes(crm: Crm, aggregate_id: UUID, gt: int, lte: int) -> list[Envelope]:
    """The events of ``aggregate_id`` with ``gt < version <= lte``, in version order."""
    return stored_envelopes(crm.mapper).envelopes([Notification(
        id=row["id"], originator_id=aggregate_id, originator_version=row["originator_version"],
        topic=row["topic"], state=bytes(row["state"])) for row in _rows(crm, [aggregate_id], gt, lte)])


def current_aggregates(crm: Crm, ids: list[UUID]) -> dict:
    """The current state of each of ``ids`` that has events, in one query (no snapshots used:
    for the short-lived aggregates this is for, the events are few)."""
    found: dict = {}
    if not ids:
        return found
    for row in _rows(crm, ids, 0, _NO_LIMIT):
        key = _uuid(row["originator_id"])
        event = crm.mapper.to_domain_event(StoredEvent(
            originator_id=key, originator_version=row["originator_version"],
            topic=row["topic"], state=bytes(row["state"])))
        found[key] = event.mutate(found.get(key))
    return found
