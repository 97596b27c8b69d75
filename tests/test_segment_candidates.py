"""A segment evaluated for a batch's customers (``members_sql`` with candidates, what the
projector runs after every batch) reads their rows alone: spend, lead scores and RFM metrics for
them, RFM against the tenant's cached breakpoints. It must agree with the evaluation for
everyone, restricted to them, for every kind of rule."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

from readmodels.segments import members_sql
from tests.test_lead_scoring import RULES as SCORING_RULES
from tests.test_lead_scoring import _put_rules
from tests.test_rfm import _ok, _shop
from tests.test_rfm_cache import DATA


def test_a_few_customers_are_judged_as_they_are_among_everyone(app, tenant):
    _put_rules(tenant, SCORING_RULES)
    now = datetime.now(timezone.utc)
    ids, last = _shop(tenant, DATA, now)
    for name in ("c2", "c5", "c8"):
        _ok(tenant.post(f"/v1/customers/{ids[name]}/engagements", {"kind": "email_opened"}), 201)
        _ok(tenant.post(f"/v1/customers/{ids[name]}/tags", {"add": ["VIP"]}))
    ids["no orders"] = tenant.register("No orders", "none@example.com", source="Etsy")["id"]
    last = _ok(tenant.post(f"/v1/customers/{ids['c1']}/tags", {"add": ["VIP"]}))
    _ok(tenant.get(f"/v1/customers/{ids['c1']}", token=last["consistency_token"]))

    rfm_names = {row["segment"] for row in _ok(tenant.get("/v1/rfm", params={"limit": 200}))["items"]}
    rules = [{"field": "rfm_segment", "op": "eq", "value": name} for name in sorted(rfm_names)] + [
        {"field": "lead_score", "op": "gte", "value": 20},
        {"field": "last_order_at", "op": "within_days", "value": 30},
        {"field": "lifetime_spend", "op": "gte", "value": 100},
        {"or": [{"field": "rfm_segment", "op": "in", "value": sorted(rfm_names)[:2]},
                {"and": [{"field": "lead_score", "op": "lt", "value": 20},
                         {"field": "lifetime_spend", "op": "lt", "value": 60}]}]},
    ]
    everybody = [UUID(i) for i in ids.values()]
    groups = [[customer] for customer in everybody] + [everybody[:4], everybody[3:], everybody]
    db = app.state.store.reader()
    for rule in rules:
        members = {row[0] for row in db.execute(*members_sql(db, tenant.id, rule, now)).fetchall()}
        assert 0 < len(members) < len(everybody), rule  # the rule tells customers apart
        for group in groups:
            some = {row[0] for row in db.execute(
                *members_sql(db, tenant.id, rule, now, group)).fetchall()}
            assert some == members & set(group), (rule, group)
