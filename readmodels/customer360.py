"""The customer 360 view: one customer's row of every read model, read in one snapshot.

What makes it cost a few milliseconds rather than a pass over the tenant:

* RFM scores the customer against the tenant's cached breakpoints
  (:func:`readmodels.rfm.breakpoints`); the customer's own metrics come with the
  profile row.
* The lead score reads only this customer's signals
  (:func:`readmodels.lead_scores.score_of_customer`), score and reasons in one statement.
* Each lookup filters by the customer's id alone before anything else: DuckDB 2
  reads an ART index only when an equality on the indexed column is a scan's
  only filter (``EXPLAIN ANALYZE`` shows a Sequential Scan otherwise).
* Small separate statements, not one statement of a dozen subqueries: measured,
  DuckDB spends more planning and scheduling one big statement (~20 ms CPU at
  100k customers) than the dozen small ones it replaces (~0.7 ms each).

Everything is read inside one read transaction (:mod:`readmodels.snapshot`), so
the parts agree with each other and with the RFM cache's key.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from readmodels import (consent, custom_fields, lead_scores, leads, rfm, segments, tasks,
                        tenant_changes)
from readmodels.rows import as_dicts
from readmodels.snapshot import snapshot

PROFILE = ("id", "name", "email", "phone", "source", "tags", "status", "created_at", "updated_at")
COUNTERS = ("note_count", "communication_count", "order_count", "open_opportunities",
            "won_opportunities", "campaigns_received")

# The profile, counters and version by the customer's id (materialized: index lookups), the
# customer's RFM inputs, the tenant's RFM cache key and scoring rules.
MAIN = (
    "WITH c AS MATERIALIZED (SELECT * FROM customers WHERE id = $customer), "
    "s AS MATERIALIZED (SELECT * FROM customer_summaries WHERE id = $customer), "
    "v AS MATERIALIZED (SELECT * FROM applied_versions WHERE aggregate_id = $customer) "
    f"SELECT {', '.join('c.' + c for c in PROFILE)}, {', '.join('s.' + c for c in COUNTERS)}, "
    "s.first_order_at, s.last_order_at, s.last_interaction_at, v.version, "
    f"{rfm.customer_metrics_sql('$now')}, {tenant_changes.token_sql('$tenant')} AS rfm_token, "
    "(SELECT scoring_rules FROM lead_settings WHERE tenant_id = $tenant) AS scoring_rules "
    "FROM c LEFT JOIN s ON true LEFT JOIN v ON true WHERE c.tenant_id = $tenant")


def customer_360(db, tenant_id: str, customer_id: UUID) -> dict[str, Any] | None:
    """Profile, counts, spend, open deals and every other read model's part of one customer;
    None if not in this tenant."""
    now = datetime.now(timezone.utc)
    with snapshot(db):
        found = as_dicts(db.execute(MAIN, {"customer": customer_id, "tenant": tenant_id,
                                           "now": now}))
        if not found:
            return None
        row = found[0]
        customer = {c: row[c] for c in PROFILE}
        customer.update({c: row[c] or 0 for c in COUNTERS})
        customer.update({c: row[c] for c in ("first_order_at", "last_order_at",
                                              "last_interaction_at", "version")})
        spend = as_dicts(db.execute(
            "SELECT currency, total AS amount, orders FROM customer_spend WHERE customer_id = ? "
            "ORDER BY orders DESC, total DESC", [customer_id]))
        customer.update(_spend(spend))
        customer["open_opportunities_list"] = as_dicts(db.execute(
            "WITH o AS MATERIALIZED (SELECT * FROM opportunities WHERE customer_id = ?) "
            "SELECT id, title, value::VARCHAR AS value, currency, stage, expected_close "
            "FROM o WHERE status = 'open' ORDER BY opened_at DESC LIMIT 20", [customer_id]))
        # The customer's rows first (an index lookup), then the top 5: see readmodels/timeline.py.
        customer["last_interactions"] = as_dicts(db.execute(
            "WITH t AS MATERIALIZED (SELECT occurred_at, position, kind, event_type, summary "
            "FROM timeline WHERE customer_id = ?) SELECT occurred_at, kind, event_type, summary "
            "FROM t ORDER BY occurred_at DESC, position DESC LIMIT 5", [customer_id]))
        rules = orjson.loads(row["scoring_rules"]) if row["scoring_rules"] else []  # as leads.settings
        scores = None
        if row["rfm_scored"]:
            bp = rfm.breakpoints(db, tenant_id, now, None, row["rfm_token"])
            scores = rfm.score(bp, row["last_order_at"], row["rfm_recency_days"], row["order_count"],
                               {s["currency"]: s["amount"] for s in spend})
        customer.update({
            "open_tasks": tasks.open_tasks_of_customer(db, customer_id),
            "custom_fields": custom_fields.values_of_customer(db, tenant_id, customer_id),
            "preferences": consent.preferences_of_customer(db, customer_id),
            "consent": consent.consent_of_customer(db, customer_id),
            "lead": leads.lead_of_customer(db, customer_id),
            "lead_score": lead_scores.score_of_customer(db, tenant_id, customer_id, now,
                                                        history=False, rules=rules),
            "rfm": scores,
            "segments": segments.segments_of_customer(db, customer_id),
        })
    return customer


def _spend(spend: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline figure is in the currency the customer buys in most; all are listed."""
    if not spend:
        return {"lifetime_spend": "0.00", "currency": None, "average_order_value": None,
                "spend_by_currency": []}
    main = spend[0]
    amount: Decimal = main["amount"]
    return {"lifetime_spend": str(amount), "currency": main["currency"],
            "average_order_value": str((amount / main["orders"]).quantize(amount)),
            "spend_by_currency": [{**row, "amount": str(row["amount"])} for row in spend]}
