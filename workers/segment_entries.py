"""Records a query node's segment entries and exits as ``SegmentMembership`` events.

Membership is derived on the query nodes, in DuckDB (readmodels/segment_membership.py),
so the workers that follow the event store's log — automations triggered by a
segment entry, webhooks — would never see it. This job closes the gap: a node
job (``name`` + ``tick(now)``, hosted on every node that has a read store) that
reads the entries and exits its node appended since last time and records them
through the ``Crm`` application.

* Its cursor (the last ``segment_changes`` row recorded) is a row of its own
  DuckDB table, moved after the events are stored: a crash in between records
  the same rows again, which changes nothing (below).
* A batch of rows becomes one read of the memberships it names (one query, not
  one per membership: a new segment of 45k members is 45k entries) and one save
  (one transaction) of all the memberships it changes. If another node recorded one of them first, the save fails as a whole
  and the batch is retried one membership at a time, each reloaded and decided
  again — after which that node's change is usually "already recorded".
* Several query nodes report the same change: the aggregate decides. A
  membership already in the reported state, or holding a later change, is done
  (domain/membership.py); two nodes racing for the same version have one winner,
  and the loser reloads and skips.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError, RecordConflictError

from commands.aggregate_batches import current_aggregates
from commands.application import Crm
from domain.base import Meta
from domain.membership import SegmentMembership, membership_id
from readmodels.segment_membership import (MembershipChange, changes_after, create_entries_cursor,
                                           entries_cursor, move_entries_cursor)
from readmodels.store import ReadStore

log = logging.getLogger("crm.segment-entries")
# A membership is contended only by the few nodes recording the same change: a lost race is
# retried this many times, then logged as given up.
RACES = 10

BATCH_SIZE = 500


class SegmentEntries:
    name = "segment-entries"

    def __init__(self, crm: Crm, store: ReadStore, batch_size: int = BATCH_SIZE) -> None:
        self.crm = crm
        self.store = store
        self.batch_size = batch_size
        self.recorded = 0          # membership changes this job stored (Entered and Left)
        create_entries_cursor(store)

    def tick(self, now: datetime) -> None:
        """Records everything the node appended since the last tick, batch by batch."""
        after = entries_cursor(self.store, self.name)
        while changes := changes_after(self.store, after, self.batch_size):
            self.recorded += self.record(changes)
            after = changes[-1].row
            move_entries_cursor(self.store, self.name, after)
            if len(changes) < self.batch_size:
                return

    def record(self, changes: list[MembershipChange]) -> int:
        """Stores the changes that are news, in one transaction; returns how many."""
        groups: dict[UUID, list[MembershipChange]] = {}
        for change in changes:
            groups.setdefault(membership_id(change.segment_id, change.customer_id), []).append(change)
        current = current_aggregates(self.crm, list(groups))
        decided = [m for key, group in groups.items()
                   if (m := self._decide(key, group, current.get(key))) is not None]
        if not decided:
            return 0
        events = sum(_changes(m) for m in decided)
        try:
            self.crm.save(*decided)
        except (IntegrityError, RecordConflictError):
            log.info("another node recorded some of %d membership change(s) first; "
                     "recording them one by one", len(changes))
            return sum(self._one(key, group) for key, group in groups.items())
        self.crm.notify_saved()
        return events

    def _one(self, key: UUID, group: list[MembershipChange]) -> int:
        for _ in range(RACES):
            membership = self._decide(key, group, current_aggregates(self.crm, [key]).get(key))
            if membership is None:
                return 0
            events = _changes(membership)
            try:
                self.crm.save(membership)
            except (IntegrityError, RecordConflictError):
                continue  # lost the race for that version: reload and decide again
            self.crm.notify_saved()
            return events
        log.warning("membership %s: gave up after %d lost races", key, RACES)
        return 0

    def _decide(self, key: UUID, group: list[MembershipChange], membership) -> SegmentMembership | None:
        """The membership (as loaded, or None) with the group's news as pending events; None if
        nothing is news."""
        tenant = group[0].tenant_id
        if membership is not None and (not isinstance(membership, SegmentMembership)
                                       or membership.tenant_id != tenant):
            log.error("aggregate %s is not tenant %s's membership; skipped", key, tenant)
            return None
        for change in group:
            meta = Meta(tenant_id=change.tenant_id, actor=change.reason or "segment rules")
            if membership is None:
                if not change.entered:
                    continue  # never recorded as a member: nothing to leave
                membership = SegmentMembership.track(meta, change.segment_id, change.customer_id)
            membership.change(meta, change.entered, change.at, change.reason or "segment rules")
        return membership if membership is not None and membership.pending_events else None


def _changes(membership: SegmentMembership) -> int:
    return sum(1 for e in membership.pending_events if not isinstance(e, SegmentMembership.Created))
