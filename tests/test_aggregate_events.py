"""Reading many aggregates in one query (commands/aggregate_batches.py) gives exactly what the
library's repository gives one at a time, on SQLite and PostgreSQL; a command's list of
customers is read that way and checked for tenant and kind (Crm.load_each)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from commands import aggregate_batches
from commands.aggregate_batches import current_aggregates
from commands.application import Crm
from domain.base import DomainError, Meta
from domain.customer import Customer
from domain.membership import SegmentMembership
from domain.opportunity import Opportunity
from workers.aggregate_events import aggregate_envelopes


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


def test_load_each_gives_the_tenants_aggregates_in_order_and_names_the_first_stranger(
        event_store_url, monkeypatch):
    monkeypatch.setattr(aggregate_batches, "CHUNK", 2)  # several queries for five ids
    crm = Crm(event_store_url)
    try:
        shop, other = Meta(tenant_id="t1", actor="test"), Meta(tenant_id="t2", actor="test")
        ours = [Customer.register(shop, f"C{n}", f"c{n}@example.com", None, "web") for n in range(5)]
        ours[0].add_note(shop, "a second event")
        theirs = Customer.register(other, "Bea", "bea@example.com", None, "web")
        deal = Opportunity.open(shop, ours[0].id, "Mugs", "120", "GBP")
        crm.save(*ours, theirs, deal)
        ids = [c.id for c in ours]

        loaded = crm.load_each(Customer, [ids[3], *ids, ids[3]], "t1", "customer_ids")

        assert [c.id for c in loaded] == [ids[3], ids[0], ids[1], ids[2], ids[4]]
        assert all(c.__dict__ == crm.repository.get(c.id).__dict__ for c in loaded)
        for stranger in (theirs.id, deal.id, uuid4()):  # another tenant's, another kind, none
            with pytest.raises(DomainError) as refused:
                crm.load_each(Customer, [ids[0], ids[1], stranger, uuid4()], "t1", "add")
            assert refused.value.field == "add[2]"
    finally:
        crm.close()
