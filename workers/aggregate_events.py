"""One aggregate's events from the event store, as envelopes with their log positions.

The library reads an aggregate's events without their notification ids, but
an envelope needs its position (the timeline orders by it), so this reads the
same rows with the id alongside. Used to fill a gap in what a query node
received (a message published out of order) and by the last step of a rebuild.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import Notification

from commands.application import Crm
from projections.envelope import Envelope
from projections.stored import stored_envelopes


def aggregate_envelopes(crm: Crm, aggregate_id: UUID, gt: int, lte: int) -> list[Envelope]:
    """The events of ``aggregate_id`` with ``gt < version <= lte``, in version order."""
    recorder = crm.recorder
    table = recorder.events_table_name
    with recorder.datastore.transaction(commit=False) as cursor:
        if hasattr(recorder.datastore, "schema"):  # PostgreSQL
            cursor.execute(
                f'SELECT notification_id AS id, originator_version, topic, state '
                f'FROM "{recorder.datastore.schema}"."{table}" WHERE originator_id = %s '
                'AND originator_version > %s AND originator_version <= %s ORDER BY originator_version',
                (aggregate_id, gt, lte))
        else:  # SQLite keeps the id as hex text and the notification id as the rowid
            cursor.execute(
                f"SELECT rowid AS id, originator_version, topic, state FROM {table} "
                "WHERE originator_id = ? AND originator_version > ? AND originator_version <= ? "
                "ORDER BY originator_version", (aggregate_id.hex, gt, lte))
        rows = cursor.fetchall()
    return stored_envelopes(crm.mapper).envelopes([Notification(
        id=row["id"], originator_id=aggregate_id, originator_version=row["originator_version"],
        topic=row["topic"], state=bytes(row["state"])) for row in rows])
