"""A segment over RFM depends on every customer of the tenant: one customer's order can move
another out of it. A small tenant sees that at once; a large one (readmodels/large_tenants.py)
up to LAG later, when the segment is next evaluated for everyone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from readmodels import large_tenants, rfm, segment_membership
from tests.test_rfm import _ok, _order, _shop
from tests.test_rfm_cache import DATA


def _members(tenant, segment, token=None) -> set[str]:
    return {m["name"] for m in _ok(tenant.get(f"/v1/segments/{segment['id']}/members",
                                              token=token, params={"limit": 200}))["items"]}


def _shop_with_a_loyalist_segment(tenant) -> tuple[dict, dict]:
    now = datetime.now(timezone.utc)
    ids, _ = _shop(tenant, DATA, now)
    segment = _ok(tenant.post("/v1/segments", {"name": "Loyalists to be", "rule": {
        "field": "rfm_segment", "op": "eq", "value": "Potential Loyalist"}}), 201)
    assert "c4" in _members(tenant, segment, segment["consistency_token"])
    return ids, segment


@pytest.mark.parametrize("large", [False, True], ids=["small tenant", "large tenant"])
def test_another_customers_order_moves_a_customer_out_at_once_or_within_the_lag(
        tenant, monkeypatch, large):
    if large:
        monkeypatch.setattr(large_tenants, "CUSTOMERS", 1)
    ids, segment = _shop_with_a_loyalist_segment(tenant)

    evaluated = []  # for whom the projector evaluated the segment (None: everyone)
    evaluate = segment_membership.evaluate
    monkeypatch.setattr(segment_membership, "evaluate", lambda *args: (
        evaluated.append(args[7]), evaluate(*args))[1])

    # c9 buys: its recency moves the breakpoints and c4 (untouched) slips to About to Sleep.
    bought = _order(tenant, ids["c9"], "c9-new", 25, datetime.now(timezone.utc) - timedelta(days=1))
    assert ("c4" in _members(tenant, segment, bought["consistency_token"])) is large
    assert evaluated == ([[UUID(ids["c9"])]] if large else [None])

    monkeypatch.setattr(large_tenants, "LAG", timedelta(0))  # the lag has passed
    noted = _ok(tenant.post(f"/v1/customers/{ids['c1']}/notes", {"text": "Asked about glazes."}), 201)
    assert "c4" not in _members(tenant, segment, noted["consistency_token"])


def test_a_batch_looks_up_the_tenants_breakpoints_once_for_all_its_rfm_segments(tenant, monkeypatch):
    ids, loyalists = _shop_with_a_loyalist_segment(tenant)
    sleepers = _ok(tenant.post("/v1/segments", {"name": "Sleepers", "rule": {
        "field": "rfm_segment", "op": "eq", "value": "About to Sleep"}}), 201)
    assert "c4" not in _members(tenant, sleepers, sleepers["consistency_token"])

    lookups = []  # each reads the tenant's change token: a statement per lookup
    breakpoints = rfm.breakpoints
    monkeypatch.setattr(rfm, "breakpoints", lambda db, tenant_id, *rest: (
        lookups.append(tenant_id), breakpoints(db, tenant_id, *rest))[1])
    bought = _order(tenant, ids["c9"], "c9-new", 25, datetime.now(timezone.utc) - timedelta(days=1))
    assert "c4" not in _members(tenant, loyalists, bought["consistency_token"])
    assert "c4" in _members(tenant, sleepers, bought["consistency_token"])
    assert lookups == [tenant.id]
