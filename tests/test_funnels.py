"""The funnel engine: its DuckDB SQL against a brute-force Python computation on random event
streams (a property test), and the funnel routes through HTTP."""

from __future__ import annotations

import statistics
import uuid
from datetime import datetime, timedelta, timezone

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readmodels import funnels
from readmodels.sales_schema import SALES_TABLES
from tests.support import assert_problem

BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)
TYPES = ("A", "B", "C")


def subject(n: int) -> uuid.UUID:
    return uuid.UUID(int=n + 1)


@pytest.fixture(scope="module")
def db():
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    columns = SALES_TABLES["funnel_events"]["funnel_events"][0]
    connection.execute(f"CREATE TABLE funnel_events ({columns})")
    yield connection
    connection.close()


# (subject, type, p: text, n: number, l: list, stage: text in a column of its own too
# (funnels.TYPED), minute); None: the property is absent.
events = st.lists(st.tuples(st.integers(0, 4), st.sampled_from(TYPES),
                            st.sampled_from([None, "x", "y"]), st.sampled_from([None, 0, 1, 2, 3]),
                            st.sampled_from([None, [], ["x"], ["x", "y"]]),
                            st.sampled_from([None, "x", "y"]), st.integers(0, 120)),
                  min_size=10, max_size=120)
FILTERS = [("p", "eq", "x"), ("p", "neq", "x"), ("p", "in", ["x", "y"]), ("p", "in", ["y"]),
           ("n", "gt", 1), ("n", "lte", 1), ("l", "contains", "x"),
           ("stage", "eq", "x"), ("stage", "neq", "x"), ("stage", "in", ["x", "y"]), ("stage", "eq", None)]
# Each step: its type and up to two filters (a type may recur with other filters).
steps = st.lists(st.tuples(st.sampled_from(TYPES), st.lists(st.sampled_from(FILTERS), max_size=2)),
                 min_size=2, max_size=3)


def satisfies(props: dict, f: funnels.Filter) -> bool:
    value = props.get(f.property)
    if f.op == "eq":
        return value == f.value
    if f.op == "neq":
        return value != f.value
    if f.op == "in":
        return value in f.value
    if f.op == "contains":
        return value is not None and f.value in value
    return value is not None and {"gt": value > f.value, "lte": value <= f.value}[f.op]


def matches(event: dict, step: funnels.Step) -> bool:
    return event["type"] == step.event_type and all(satisfies(event["props"], f) for f in step.filters)


def brute_force(rows: list[dict], funnel: funnels.Funnel, start: datetime, end: datetime):
    """Per breakdown value (None: all): the times each subject reached each step."""
    journeys: dict = {}
    for who in sorted({r["subject"] for r in rows}):
        mine = sorted((r for r in rows if r["subject"] == who), key=lambda r: (r["t"], r["seq"]))
        anchor = next((r for r in mine if matches(r, funnel.steps[0]) and start <= r["t"] < end), None)
        if anchor is None:
            continue
        reached, previous = [anchor], anchor
        for step in funnel.steps[1:]:
            found = next((r for r in mine if (r["t"], r["seq"]) > (previous["t"], previous["seq"])
                          and r["t"] - anchor["t"] <= funnel.window and matches(r, step)), None)
            if found is None:
                break
            reached.append(found)
            previous = found
        value = anchor["props"].get(funnel.breakdown) if funnel.breakdown else None
        journeys.setdefault(None, []).append(reached)
        if funnel.breakdown:
            journeys.setdefault(funnels.NONE if value is None else value, []).append(reached)
    return journeys


def expected_summary(journeys: list[list[dict]], n: int) -> dict:
    counts = [sum(1 for j in journeys if len(j) > k) for k in range(n)]
    steps = []
    for k in range(n):
        gaps = [(j[k]["t"] - j[k - 1]["t"]).total_seconds() for j in journeys if k and len(j) > k]
        steps.append({"reached": counts[k],
                      "conversion_from_previous": round(counts[k] / counts[k - 1], 4)
                      if k and counts[k - 1] else (1.0 if counts[0] else None) if not k else None,
                      "drop_off": counts[k - 1] - counts[k] if k else 0,
                      "median": statistics.median(gaps) if gaps else None,
                      "mean": statistics.fmean(gaps) if gaps else None})
    totals = [(j[-1]["t"] - j[0]["t"]).total_seconds() for j in journeys if len(j) == n]
    return {"entered": counts[0], "completed": counts[-1],
            "median": statistics.median(totals) if totals else None,
            "mean": statistics.fmean(totals) if totals else None, "steps": steps}


def check(actual: dict, expected: dict) -> None:
    assert (actual["entered"], actual["completed"]) == (expected["entered"], expected["completed"])
    assert actual["median_seconds_to_convert"] == pytest.approx(expected["median"], abs=1e-3)
    assert actual["mean_seconds_to_convert"] == pytest.approx(expected["mean"], abs=1e-3)
    for got, want in zip(actual["steps"], expected["steps"]):
        assert got["reached"] == want["reached"]
        assert got["drop_off"] == want["drop_off"]
        if want["conversion_from_previous"] is not None:
            assert got["conversion_from_previous"] == want["conversion_from_previous"]
        assert got["median_seconds_from_previous"] == pytest.approx(want["median"], abs=1e-3)
        assert got["mean_seconds_from_previous"] == pytest.approx(want["mean"], abs=1e-3)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=events, steps=steps, window=st.integers(1, 240), start=st.integers(0, 60),
       length=st.integers(1, 180), breakdown=st.sampled_from([None, "p", "stage"]))
def test_funnel_numbers_equal_a_brute_force_computation(db, events, steps, window, start, length,
                                                       breakdown):
    rows = [{"subject": subject(who), "type": kind,
             "props": {k: v for k, v in (("p", p), ("n", n), ("l", l), ("stage", stage))
                       if v is not None},
             "t": BASE + timedelta(minutes=minute), "seq": seq}
            for seq, (who, kind, p, n, l, stage, minute) in enumerate(events)]
    db.execute("DELETE FROM funnel_events")
    if rows:
        db.executemany(
            "INSERT INTO funnel_events (tenant_id, position, seq, event_id, event_type, occurred_at, "
            "aggregate_id, customer_id, properties, stage, pipeline_id) "
            "VALUES ('t', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[r["seq"], r["seq"], str(r["seq"]), r["type"], r["t"], r["subject"], r["subject"],
              orjson.dumps(r["props"]).decode(), *funnels.typed_columns(r["props"]).values()]
             for r in rows])
        # Noise another tenant could have: never counted.
        db.execute("INSERT INTO funnel_events (tenant_id, seq, event_type, occurred_at, customer_id, "
                   "properties) VALUES ('other', 0, ?, ?, ?, '{}')", [steps[0][0], BASE, subject(0)])
    funnel = funnels.Funnel(
        steps=tuple(funnels.Step(f"step {i}", kind, tuple(funnels.Filter(*f) for f in filters))
                    for i, (kind, filters) in enumerate(steps)),
        window=timedelta(minutes=window), breakdown=breakdown)
    period = (BASE + timedelta(minutes=start), BASE + timedelta(minutes=start + length))

    result = funnels.run(db, "t", funnel, *period)

    journeys = brute_force(rows, funnel, *period)
    check(result, expected_summary(journeys.get(None, []), len(steps)))
    if breakdown:
        groups = {g["value"]: g for g in result["breakdown"]}
        assert set(groups) == {k for k in journeys if k is not None}
        for value, group in groups.items():
            check(group, expected_summary(journeys[value], len(steps)))


def test_a_file_made_before_the_typed_columns_is_read_from_its_json():
    """Until the rebuild to the new shape switches in (workers/rebuilds.py), an older file's
    funnel_events has no TYPED columns: the built-in funnels then read the properties' JSON and
    give the same numbers."""
    columns = SALES_TABLES["funnel_events"]["funnel_events"][0]
    before = columns[:columns.index("stage VARCHAR")].rstrip().rstrip(",")
    pipeline = {"id": uuid.uuid4(), "name": "Default", "stages": [
        {"id": stage, "kind": "open", "archived": False, "name": stage}
        for stage in ("qualified", "proposal")]}
    events = []
    for n in range(6):
        customer, deal = subject(n), uuid.uuid4()
        events.append(("Customer.Registered", customer, customer, {"source": "web" if n % 2 else "fair"}))
        for stage in ("qualified", "proposal")[:1 + (n % 2 or n > 3)]:
            events.append(("Opportunity.StageEntered", deal, customer,
                           {"stage": stage, "pipeline_id": str(pipeline["id"])}))
        if n > 2:
            events.append(("Opportunity.Won", deal, customer, {"pipeline_id": str(pipeline["id"])}))
    results = []
    for shape in (columns, before):
        connection = duckdb.connect()
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(f"CREATE TABLE funnel_events ({shape})")
        for seq, (kind, aggregate, customer, props) in enumerate(events):
            typed = funnels.typed_columns(props) if shape is columns else {}
            names = ["tenant_id", "seq", "event_type", "occurred_at", "aggregate_id", "customer_id",
                     "properties", *typed]
            connection.execute(
                f"INSERT INTO funnel_events ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                ["t", seq, kind, BASE + timedelta(hours=seq), aggregate, customer,
                 orjson.dumps(props).decode(), *typed.values()])
        period = (BASE, BASE + timedelta(days=30))
        results.append([funnels.run(connection, "t", funnel, *period) for funnel in (
            funnels.lead_funnel(timedelta(days=30), breakdown="source"),
            funnels.stage_funnel(pipeline, timedelta(days=30), breakdown="stage"))])
        connection.close()
    assert results[0] == results[1]
    lead, stages = results[0]
    assert [s["reached"] for s in lead["steps"]] == [6, 6, 4, 3]
    assert [s["reached"] for s in stages["steps"]] == [6, 4, 3]


def test_a_funnel_definition_is_checked(db):
    one = funnels.Funnel(steps=(funnels.Step("a", "A"),), window=timedelta(days=1))
    with pytest.raises(funnels.FunnelError):
        funnels.run(db, "t", one, BASE, BASE + timedelta(days=1))
    bad = funnels.Funnel(steps=(funnels.Step("a", "A", (funnels.Filter("p; DROP", "eq", 1),)),
                                funnels.Step("b", "B")), window=timedelta(days=1))
    with pytest.raises(funnels.FunnelError):
        funnels.run(db, "t", bad, BASE, BASE + timedelta(days=1))


# -- through HTTP -------------------------------------------------------------------------------


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def test_the_lead_funnel_with_a_breakdown_by_source(make_tenant):
    shop = make_tenant("Funnel Shop")
    journeys = {"etsy": ["qualified", "proposal", "won"], "instagram": ["qualified"],
                "market": [], "website": ["negotiation", "won"]}
    last = None
    for source, path in journeys.items():
        for n in range(2 if source == "etsy" else 1):
            customer = shop.register(f"{source} {n}", None, source=source)
            if not path:
                last = customer
                continue
            deal = ok(shop.post("/v1/opportunities", {"customer_id": customer["id"], "title": "Mugs",
                                                      "value": "10", "currency": "GBP"}), 201)
            for step in path:
                last = ok(shop.post(f"/v1/opportunities/{deal['id']}/"
                                    + ("win" if step == "won" else "stage"),
                                    {} if step == "won" else {"stage": step}))
    report = ok(shop.get("/v1/funnels/leads", params={"breakdown": "source"},
                         token=last["consistency_token"]))
    # 5 leads; qualified: etsy x2, instagram; then proposal/negotiation: etsy x2 (website skipped
    # "qualified", so it stops at lead); won: etsy x2.
    assert [(s["name"], s["reached"]) for s in report["steps"]] == [
        ("lead", 5), ("qualified", 3), ("opportunity", 2), ("won", 2)]
    assert report["overall_conversion"] == 0.4 and report["steps"][1]["drop_off"] == 2
    assert report["median_seconds_to_convert"] > 0
    groups = {g["value"]: [s["reached"] for s in g["steps"]] for g in report["breakdown"]}
    assert groups == {"etsy": [2, 2, 2, 2], "instagram": [1, 1, 0, 0], "market": [1, 0, 0, 0],
                      "website": [1, 0, 0, 0]}

    custom = ok(shop.post("/v1/funnels/query", {
        "subject": "customer", "window_days": 30, "steps": [
            {"name": "registered", "event_type": "Customer.Registered",
             "filters": [{"property": "source", "op": "in", "value": ["etsy", "website"]}]},
            {"name": "won", "event_type": "Opportunity.Won"}]}))
    assert [s["reached"] for s in custom["steps"]] == [3, 3]
    chart = shop.get("/v1/funnels/leads.svg")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert "Funnel: leads" in chart.text and "2 (40.0%)" in chart.text

    assert_problem(shop.post("/v1/funnels/query", {"steps": [{"name": "a", "event_type": "X"}]}),
                   422, "steps")
    assert_problem(shop.post("/v1/funnels/query", {"breakdown": "a b", "steps": [
        {"name": "a", "event_type": "X"}, {"name": "b", "event_type": "Y"}]}), 422, "breakdown")
    assert_problem(shop.get("/v1/funnels/leads", params={"from": "2026-02-01T00:00:00Z",
                                                         "to": "2026-01-01T00:00:00Z"}), 422, "from")
