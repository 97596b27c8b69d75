"""The customer 360 view: one customer's row of every read model, read in one snapshot.

What makes it cost a few milliseconds rather than a pass over the tenant:

* RFM scores the customer against the tenant's cached breakpoints
  (:func:`readmodels.rfm.breakpoints`); the customer's own metrics come with the
  profile row.
* The lead score reads only this customer's signals and attributes, as two more parts of
  the lists' statement (below), each row flagged with the scoring rules it matches; Python
  adds the points up (:func:`readmodels.lead_scores.customer_score`): the scoring SQL for
  one customer cost ~6 ms of planning.
* Each lookup filters by the customer's id alone before anything else: DuckDB 2
  reads an ART index only when an equality on the indexed column is a scan's
  only filter (``EXPLAIN ANALYZE`` shows a Sequential Scan otherwise); the
  other conditions of a part are the aggregate's ``FILTER``.
* The parts that list rows (spend, deals, tasks, consent, segments...) are one
  statement, a ``UNION ALL`` of one list per part. DuckDB plans every statement
  afresh, and for lookups of a few rows planning is most of a statement's cost:
  at 100k customers the nine parts took 15.3 ms as nine statements and 11.5 ms
  as the union (docs/PERFORMANCE.md). Other ways of putting the parts in one
  statement planned slower than the union: a scalar subquery per part, a cross
  join of one-row aggregates. The lead score's rows joined the union later; their
  flags need the scoring rules, which come with the profile row, so the view is two
  statements.

Everything is read inside one read transaction (:mod:`readmodels.snapshot`), so
the parts agree with each other and with the RFM cache's key.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from readmodels import lead_scores, rfm, tasks, tenant_changes
from readmodels.rows import as_dicts, positional
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


def _part(fields: tuple[str, ...], source: str, order: str = "", only: str = "",
          limit: int | None = None) -> str:
    """One list of structs of ``fields`` ("name" or "name := expression") from ``source``,
    kept to the rows ``only`` admits, in ``order``, the first ``limit``."""
    rows = f"list(struct_pack({', '.join(fields)}){' ORDER BY ' + order if order else ''})"
    if only:
        rows += f" FILTER (WHERE {only})"
    if limit:
        rows = f"({rows})[1:{limit}]"
    return f"{rows} FROM {source}"


# Part -> (its fields, the SQL of its list). DuckDB unites the parts' struct types by field
# name into one type, so a field name must mean the same type in every part (else DuckDB
# would cast both to a common type); each part then keeps only its own fields.
PARTS: dict[str, tuple[tuple[str, ...], str]] = {name: (
    tuple(field.split(" := ")[0] for field in fields), _part(fields, *rest)) for name, fields, *rest in (
    ("spend", ("currency", "amount := total", "orders"),
     "customer_spend WHERE customer_id = $customer", "orders DESC, total DESC"),
    ("open_opportunities_list",
     ("id", "title", "value := value::VARCHAR", "currency", "stage", "expected_close"),
     "opportunities WHERE customer_id = $customer", "opened_at DESC", "status = 'open'", 20),
    # The timeline's rows are looked up by the customer's id, then sorted: see readmodels/timeline.py.
    ("last_interactions", ("occurred_at", "kind", "event_type", "summary"),
     "timeline WHERE customer_id = $customer", "occurred_at DESC, position DESC", "", 5),
    ("open_tasks", ("id", "title", "due_at", "priority", "assignee"),
     "tasks WHERE customer_id = $customer", f"{tasks.SORT_DUE}, id", "status = 'open'", 20),
    ("custom_fields", ("key := d.key", "label := d.label", "type := d.type", "value_json := v.value_json"),
     "custom_field_definitions d LEFT JOIN custom_field_values v ON v.customer_id = $customer "
     "AND v.key = d.key WHERE d.tenant_id = $tenant", "d.defined_at, d.key", "NOT d.retired"),
    ("preferences", ("preferred_channel", "frequency", "topics"),
     "customer_preferences WHERE customer_id = $customer"),
    ("consent", ("channel", "status", "source", "occurred_at"),
     "customer_consent WHERE customer_id = $customer", "channel"),
    ("lead", ("stage", "owner", "lead_since", "qualified_at", "converted_at", "bant",
              "bant_qualified", "assignment_method"),
     "lifecycle WHERE customer_id = $customer"),
    ("segments", ("id := g.id", "name := g.name", "kind := g.kind", "since := m.since"),
     "segment_members m JOIN segments g ON g.id = m.segment_id WHERE m.customer_id = $customer",
     "g.name", "m.is_member AND NOT g.deleted"),
)}
PARTS_SQL = " UNION ALL ".join(f"SELECT '{name}' AS part, {sql}" for name, (_, sql) in PARTS.items())


def lists_sql(tenant_id: str, customer_id: UUID, rules: list[dict]) -> tuple[str, list]:
    """The parts' union and the customer's signals and attribute flags under the scoring
    ``rules`` (parts ``score_signals`` and ``score_attributes``, for
    :func:`lead_scores.customer_score`)."""
    signals, signal_params = lead_scores.signal_fields(rules, tenant_id)
    attributes, attribute_params = lead_scores.attribute_fields(rules, tenant_id)
    sql = (f"{PARTS_SQL} UNION ALL SELECT 'score_signals' AS part, "
           f"{_part(signals, 'score_signals s WHERE s.customer_id = $customer', lead_scores.SIGNAL_ORDER)} "
           f"UNION ALL SELECT 'score_attributes' AS part, "
           f"{_part(attributes, 'customers c WHERE c.id = $customer')}")
    return positional(sql, signal_params + attribute_params, {"customer": customer_id, "tenant": tenant_id})


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
        rules = orjson.loads(row["scoring_rules"]) if row["scoring_rules"] else []  # as leads.settings
        lists = dict(db.execute(*lists_sql(tenant_id, customer_id, rules)).fetchall())
        lead_score = lead_scores.customer_score(
            rules, lists.pop("score_signals") or [], lists.pop("score_attributes")[0]["matches"],
            row["created_at"], row["status"], now)
        spend = _rows(lists, "spend")
        scores = None
        if row["rfm_scored"]:
            bp = rfm.breakpoints(db, tenant_id, now, None, row["rfm_token"])
            scores = rfm.score(bp, row["last_order_at"], row["rfm_recency_days"], row["order_count"],
                               {s["currency"]: s["amount"] for s in spend})
            # A large tenant's breakpoints may predate its last change (readmodels/rfm.py).
            scores["breakpoints_as_of"] = bp.computed_at if bp.token != row["rfm_token"] else None
    customer = {c: row[c] for c in PROFILE}
    customer.update({c: row[c] or 0 for c in COUNTERS})
    customer.update({c: row[c] for c in ("first_order_at", "last_order_at",
                                          "last_interaction_at", "version")})
    customer.update(_spend(spend))
    preferences = _rows(lists, "preferences")
    lead = _rows(lists, "lead")
    customer.update({
        "open_opportunities_list": _rows(lists, "open_opportunities_list"),
        "last_interactions": _rows(lists, "last_interactions"),
        "open_tasks": _rows(lists, "open_tasks"),
        "custom_fields": [
            {"key": f["key"], "label": f["label"], "type": f["type"],
             "value": orjson.loads(f["value_json"]) if f["value_json"] is not None else None}
            for f in _rows(lists, "custom_fields")],
        "preferences": {**preferences[0], "topics": preferences[0]["topics"] or []} if preferences
        else {"preferred_channel": None, "frequency": None, "topics": []},
        "consent": _rows(lists, "consent"),
        "lead": {**lead[0], "bant": orjson.loads(lead[0]["bant"]) if lead[0]["bant"] else {},
                 "bant_qualified": bool(lead[0]["bant_qualified"])} if lead else None,
        "lead_score": lead_score,
        "rfm": scores,
        "segments": _rows(lists, "segments"),
    })
    return customer


def _rows(lists: dict[str, list | None], part: str) -> list[dict[str, Any]]:
    """The part's rows with its own fields (the united struct type has every part's)."""
    fields = PARTS[part][0]
    return [{field: row[field] for field in fields} for row in lists[part] or ()]


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
