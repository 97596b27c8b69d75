"""Reading many aggregates in one query (workers/aggregate_events.py) gives exactly what the
library's repository gives one at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

from commands.application import Crm
from domain.base import Meta
from domain.membership import SegmentMembership
from workers.aggregate_events import aggregate_envelopes, current_aggregates


def test_current_aggregates_match_the_repository_and_leave_out_the_unknown(event_store_url):
    crm = Crm(event_store_url)
    try:
        meta, segment, at = Meta(tenant_id="t1", actor="test"), uuid4(), datetime.now(timezone.utc)
        memberships = [SegmentMembership.track(meta, segment, uuid4()) for _ in range(30)]
        for i, membership in enumerate(memberships):  # 1 to 3 changes each: versions differ
            for step in range(i % 3 + 1):
                membership.change(meta, step % 2 == 0, at + timedelta(seconds=step), "rules")
        crm.save(*memberships)
        unknown = uuid4()

        found = current_aggregates(crm, [m.id for m in memberships] + [unknown])

        assert unknown not in found and len(found) == len(memberships)
        for membership in memberships:
            loaded, expected = found[membership.id], crm.repository.get(membership.id)
            assert type(loaded) is SegmentMembership
            assert loaded.__dict__ == expected.__dict__
            assert loaded.version == membership.version
        assert current_aggregates(crm, []) == {}
        # the one-aggregate reader shares the query: versions in range, positions attached
        envelopes = aggregate_envelopes(crm, memberships[2].id, 1, 3)
        assert [e.version for e in envelopes] == [2, 3]
        assert [e.type for e in envelopes] == ["SegmentMembership.Entered", "SegmentMembership.Left"]
        assert envelopes[0].position < envelopes[1].position
    finally:
        crm.close()
