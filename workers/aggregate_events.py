"""One aggregate's events as envelopes, with their log positions, straight from the store.

The library reads an aggregate without the notification ids, and an envelope
needs its log position (the timeline orders by it): to fill a gap in what a
query node received (a message published out of order) and for the last step
of a rebuild. The query is commands/aggregate_batches.py's.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import Notification

from commands.aggregate_batches import stored_rows
from commands.application import Crm
from projections.envelope import Envelope
from projections.stored import stored_envelopes


def aggregate_envelopes(crm: Crm, aggregate_id: UUID, gt: int, lte: int) -> list[Envelope]:
    """The events of ``aggregate_id`` with ``gt < version <= lte``, in version order."""
    return stored_envelopes(crm.mapper).envelopes([Notification(
        id=row["id"], originator_id=aggregate_id, originator_version=row["originator_version"],
        topic=row["topic"], state=bytes(row["state"]))
        for row in stored_rows(crm, [aggregate_id], gt, lte)])
