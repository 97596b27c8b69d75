"""A customer's membership of one segment, as events: ``Entered`` and ``Left``.

Membership itself is derived on the query nodes (readmodels/segment_membership.py
re-evaluates segments as events arrive). Workers that follow the event store's
log (automations triggered by a segment entry, webhooks) never see those
read-model rows, so each node's ``SegmentEntries`` job (workers/segment_entries.py)
records them here, once for all nodes.

The id derives from (segment, customer), so every node records into the same
aggregate and the store's one-event-per-version rule arbitrates between them.
A change a node reports is recorded only if it moves the membership on:

* the aggregate is already in that state → done (another node recorded it);
* the aggregate already holds a change at or after the reported moment → done
  (a node that lags behind reports entries and exits that others recorded
  long ago; replaying them would make a member leave and re-enter).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from domain.base import CrmAggregate, Meta


def membership_id(segment_id: UUID, customer_id: UUID) -> UUID:
    """uuid5 in the segment's own id space: one aggregate per (segment, customer)."""
    return uuid5(segment_id, str(customer_id))


class SegmentMembership(CrmAggregate):
    """State: segment_id, customer_id, is_member, changed_at (the moment of the last change),
    entries (how many times the customer entered)."""

    class Created(CrmAggregate.Created):
        segment_id: UUID
        customer_id: UUID

        def apply(self, membership: SegmentMembership) -> None:
            super().apply(membership)
            membership.segment_id = self.segment_id
            membership.customer_id = self.customer_id
            membership.is_member = False
            membership.changed_at = None
            membership.entries = 0

    class Entered(CrmAggregate.Event):
        segment_id: UUID
        customer_id: UUID
        at: datetime           # when the query node saw the customer enter
        reason: str            # "segment rules", or who added them by hand

        def apply(self, membership: SegmentMembership) -> None:
            membership.is_member = True
            membership.changed_at = self.at
            membership.entries += 1

    class Left(CrmAggregate.Event):
        segment_id: UUID
        customer_id: UUID
        at: datetime
        reason: str

        def apply(self, membership: SegmentMembership) -> None:
            membership.is_member = False
            membership.changed_at = self.at

    @classmethod
    def track(cls, meta: Meta, segment_id: UUID, customer_id: UUID) -> SegmentMembership:
        """A membership not yet recorded (its first ``Entered`` follows in the same save)."""
        return cls._start(cls.Created, meta, id=membership_id(segment_id, customer_id),
                          segment_id=segment_id, customer_id=customer_id)

    def moves_on(self, entered: bool, at: datetime) -> bool:
        """Whether a reported change is news (see the module docstring)."""
        if self.changed_at is not None and self.changed_at >= at:
            return False
        return self.is_member != entered

    def change(self, meta: Meta, entered: bool, at: datetime, reason: str) -> bool:
        """Records the change if it is news; False when it was already recorded."""
        if not self.moves_on(entered, at):
            return False
        self._record(self.Entered if entered else self.Left, meta, segment_id=self.segment_id,
                     customer_id=self.customer_id, at=at, reason=reason[:200])
        return True
