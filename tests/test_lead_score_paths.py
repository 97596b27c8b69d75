"""One customer's lead score is worked out two ways: in SQL for lists of customers (top scores,
segments, the lead-score route) and, for the 360 view, in Python from the customer's rows as
SQL flagged them (readmodels/lead_scores.py, "one customer's score"). Both must give the same
score, points, silence and reasons for any rules and any rows: generated here."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.leads import ENGAGEMENTS, SCORING_EVENTS
from readmodels import lead_scores
from readmodels.customer360 import lists_sql
from readmodels.store import ReadStore

TENANT, CUSTOMER = "t", UUID(int=1)
NOW = datetime(2026, 6, 15, 13, 30, tzinfo=timezone.utc)
CHANNELS = ("email", "sms")

event_rules = st.fixed_dictionaries(
    {"event": st.sampled_from(SCORING_EVENTS), "points": st.integers(-100, 100)},
    optional={"channel": st.sampled_from(CHANNELS), "direction": st.sampled_from(("inbound", "outbound")),
              "kind": st.sampled_from(ENGAGEMENTS), "max_times": st.integers(1, 3),
              "min_amount": st.decimals("0", "200", places=3).map(str)})
attribute_rules = st.one_of(
    st.fixed_dictionaries({"attribute": st.sampled_from(("has_email", "has_phone", "bant_qualified")),
                           "points": st.integers(-100, 100)}),
    st.fixed_dictionaries({"attribute": st.sampled_from(("source", "tag", "lifecycle_stage")),
                           "equals": st.sampled_from(("Etsy", "vip", "lead", "customer")),
                           "points": st.integers(-100, 100)}),
    st.fixed_dictionaries({"attribute": st.just("custom_field"), "key": st.just("size"),
                           "equals": st.sampled_from(("L", "12", "12.0", "true", "2026-01-02")),
                           "points": st.integers(-100, 100)}))
silence_rules = st.fixed_dictionaries({"silence_days": st.integers(1, 60), "points": st.integers(-100, 0)})
rule_lists = st.lists(st.one_of(event_rules, attribute_rules, silence_rules), max_size=7).map(
    lambda rules: [{"name": f"rule {chr(ord('a') + len(rules) - i)}", **rule}
                   for i, rule in enumerate(rules)])  # names sort against the rules' order

moments = st.integers(-400 * 24, 10 * 24).map(lambda hours: NOW + timedelta(hours=hours, seconds=hours % 7))
signals = st.lists(st.fixed_dictionaries({
    "kind": st.sampled_from(SCORING_EVENTS), "occurred_at": moments,
    "position": st.integers(1, 30), "amount": st.one_of(st.none(), st.decimals("0", "300", places=2)),
    "channel": st.one_of(st.none(), st.sampled_from(CHANNELS)),
    "direction": st.one_of(st.none(), st.sampled_from(("inbound", "outbound"))),
    "engagement": st.one_of(st.none(), st.sampled_from(ENGAGEMENTS))}), max_size=12)
customers = st.fixed_dictionaries({
    "email": st.sampled_from((None, "a@example.com")), "phone": st.sampled_from((None, "+441234")),
    "source": st.sampled_from((None, "etsy", "Etsy", "fair")),
    "tags": st.lists(st.sampled_from(("vip", "new")), unique=True),
    "status": st.sampled_from(("active", "active", "archived")), "created_at": moments})
lifecycles = st.one_of(st.none(), st.fixed_dictionaries({
    "stage": st.sampled_from(("lead", "qualified", "customer")), "bant_qualified": st.booleans()}))
sizes = st.one_of(st.none(), st.fixed_dictionaries({
    "text_value": st.sampled_from((None, "L", "M")),
    "number_value": st.sampled_from((None, Decimal("12"), Decimal("12.5"))),
    "bool_value": st.sampled_from((None, True, False)),
    "date_value": st.sampled_from((None, datetime(2026, 1, 2).date()))}))


def _store() -> tuple[ReadStore, dict[str, str]]:
    store = ReadStore(":memory:")
    return store, {table: f"{store.live_schema(projection)}.{table}" for projection, table in (
        ("customer_directory", "customers"), ("lead_scoring", "score_signals"),
        ("leads", "lifecycle"), ("custom_fields", "custom_field_values"))}


STORE, TABLES = _store()


def _insert(db, table: str, row: dict) -> None:
    db.execute(f"INSERT INTO {TABLES[table]} BY NAME SELECT {', '.join(f'? AS {c}' for c in row)}",
               list(row.values()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rule_lists, customer=customers, rows=signals, lifecycle=lifecycles, size=sizes,
       now=moments)
def test_the_360_views_score_is_the_sql_score(rules, customer, rows, lifecycle, size, now):
    db = STORE.reader()
    for table in TABLES.values():
        db.execute(f"DELETE FROM {table}")
    _insert(db, "customers", {"id": CUSTOMER, "tenant_id": TENANT, **customer})
    for row in rows:
        _insert(db, "score_signals", {"tenant_id": TENANT, "customer_id": CUSTOMER, **row})
    if lifecycle:
        _insert(db, "lifecycle", {"customer_id": CUSTOMER, "tenant_id": TENANT, **lifecycle})
    if size:
        _insert(db, "custom_field_values", {"customer_id": CUSTOMER, "key": "size",
                                            "tenant_id": TENANT, **size})

    expected = lead_scores.score_of_customer(db, TENANT, CUSTOMER, now, history=False, rules=rules)
    lists = dict(db.execute(*lists_sql(TENANT, CUSTOMER, rules)).fetchall())
    got = lead_scores.customer_score(rules, lists["score_signals"] or [],
                                     lists["score_attributes"][0]["matches"],
                                     customer["created_at"], customer["status"], now)
    assert got == expected
