"""Pipeline analytics, empirical probabilities, forecasts and the stage funnel, checked against a
data set computed by hand. Times are the deals' own (``occurred_at``, as an import would send).

The "Commissions" pipeline: brief (10%, rots after 7 days), design (40%, 14 days), quote (70%),
won, lost. Day 0 is 2026-01-01; the period is days 0-90 (Jan-Mar), as of day 90 (2026-04-01).

    deal  value  opened            moves                          closed        expected close
    A     1000   day 0  brief      design 10, quote 20            won day 30    2026-01-31
    B     2000   day 5  brief      design 15                      won day 45    2026-02-15
    C      500   day 10 brief      -                              lost day 20   -
    D     3000   day 20 design     quote 50                       lost day 60   -
    E     1500   day 30 brief      -                              open          -
    F     4000   day 40 design     quote 70                       open          2026-04-15
    G      800   day -20 brief     -                              won day 10    2026-01-15
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

DAY0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
PERIOD = {"from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}


def at(day: int) -> str:
    return (DAY0 + timedelta(days=day)).isoformat()


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def data(make_tenant):
    shop = make_tenant("Commission Studio")
    pid = ok(shop.post("/v1/pipelines", {"name": "Commissions", "stages": [
        {"name": "Brief", "probability": 10, "rotting_days": 7},
        {"name": "Design", "probability": 40, "rotting_days": 14},
        {"name": "Quote", "probability": 70},
        {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]}), 201)["id"]
    customer = shop.register()
    last = {}

    def deal(value: str, day: int, stage: str, close: str | None, moves=(), end=None):
        body = {"customer_id": customer["id"], "title": f"Commission {value}", "value": value,
                "currency": "GBP", "pipeline_id": pid, "stage": stage, "occurred_at": at(day),
                **({"expected_close": close} if close else {})}
        deal_id = ok(shop.post("/v1/opportunities", body), 201)["id"]
        for move_stage, move_day in moves:
            ok(shop.post(f"/v1/opportunities/{deal_id}/stage",
                         {"stage": move_stage, "occurred_at": at(move_day)}))
        if end:
            outcome, end_day = end
            body = {"occurred_at": at(end_day), **({"reason": "price"} if outcome == "lose" else {})}
            last.update(ok(shop.post(f"/v1/opportunities/{deal_id}/{outcome}", body)))
        return deal_id

    ids = {
        "A": deal("1000", 0, "brief", "2026-01-31", [("design", 10), ("quote", 20)], ("win", 30)),
        "B": deal("2000", 5, "brief", "2026-02-15", [("design", 15)], ("win", 45)),
        "C": deal("500", 10, "brief", None, [], ("lose", 20)),
        "D": deal("3000", 20, "design", None, [("quote", 50)], ("lose", 60)),
        "E": deal("1500", 30, "brief", None),
        "F": deal("4000", 40, "design", "2026-04-15", [("quote", 70)]),
        "G": deal("800", -20, "brief", "2026-01-15", [], ("win", 10)),
    }
    ok(shop.get(f"/v1/pipelines/{pid}", token=last["consistency_token"]))  # caught up
    return shop, pid, ids


def test_pipeline_analytics_over_a_period(data):
    shop, pid, ids = data
    report = ok(shop.get(f"/v1/pipelines/{pid}/analytics",
                         params={**PERIOD, "as_of": "2026-04-01T00:00:00Z"}))
    assert (report["currency"], report["opened"], report["won"], report["lost"]) == ("GBP", 6, 3, 2)
    assert report["win_rate"] == 0.6                       # 3 won / 5 closed
    assert report["won_value"] == "3800.00"
    assert report["average_deal_size"] == "1266.67"        # 3800 / 3
    assert report["average_cycle_days"] == 33.3333         # (30 + 40 + 30) / 3
    assert (report["open_deals"], report["open_value"]) == (2, "5500.00")
    assert report["sales_velocity_per_day"] == "45.60"     # 2 x 3800/3 x 0.6 / (100/3)
    # Of the 6 deals opened in the period: reached brief 6, design 4 (A, B, D, F), quote 4, won 2.
    assert [(c["from_stage"], c["to_stage"], c["reached_from"], c["reached_to"], c["rate"])
            for c in report["stage_conversion"]] == [
        ("brief", "design", 6, 4, 0.6667), ("design", "quote", 4, 4, 1.0), ("quote", "won", 4, 2, 0.5)]
    # Finished stays that began in the period: brief A10 B10 C10; design A10 B30 D30 F30; quote A10 D10.
    assert [(t["stage"], t["stays"], t["average_days"]) for t in report["time_in_stage"]] == [
        ("brief", 3, 10.0), ("design", 4, 25.0), ("quote", 2, 10.0)]
    assert [(r["id"], r["stage"], r["idle_days"]) for r in report["rotting"]] == [(ids["E"], "brief", 60.0)]


def test_default_and_empirical_probabilities_side_by_side(data):
    shop, pid, _ = data
    report = ok(shop.get(f"/v1/pipelines/{pid}/probabilities"))
    # Closed: A, B, G won; C (reached brief only) and D (design, quote) lost.
    assert report["closed_deals"] == 5
    assert [(s["stage"], s["default_probability"], s["empirical_probability"], s["closed_deals"],
             s["won_deals"]) for s in report["stages"]] == [
        ("brief", 10, 60.0, 5, 3), ("design", 40, 75.0, 4, 3), ("quote", 70, 75.0, 4, 3)]
    february = ok(shop.get(f"/v1/pipelines/{pid}/probabilities",
                           params={"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}))
    assert february["closed_deals"] == 1 and february["stages"][0]["empirical_probability"] == 100.0


def test_forecast_by_expected_close_month_with_cases_and_against_actuals(data):
    shop, pid, _ = data
    report = ok(shop.get(f"/v1/pipelines/{pid}/forecast", params={"from": "2026-01-20", "months": 4}))
    months = {m["month"]: m for m in report["months"]}
    assert list(months) == ["2026-01", "2026-02", "2026-03", "2026-04"]
    columns = ("open_deals", "pipeline", "weighted", "closed_won", "worst", "commit", "best", "expected",
               "forecast_at_month_start", "forecast_deals_at_month_start")
    table = {month: tuple(row[c] for c in columns) for month, row in months.items()}
    assert table == {
        # Jan: A and G won (1000 + 800); on Jan 1 only G was open, due in Jan: 800 x 10%.
        "2026-01": (0, "0.00", "0.00", "1800.00", "1800.00", "1800.00", "1800.00", "1800.00", "80.00", 1),
        # Feb: B won; on Feb 1 B was in design (40%) due Feb 15: 2000 x 40%.
        "2026-02": (0, "0.00", "0.00", "2000.00", "2000.00", "2000.00", "2000.00", "2000.00", "800.00", 1),
        "2026-03": (0, "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", 0),
        # Apr: F open in quote (70% >= the 70% commit threshold), due Apr 15.
        "2026-04": (1, "4000.00", "2800.00", "0.00", "0.00", "4000.00", "4000.00", "2800.00", "2800.00", 1),
    }
    assert report["unscheduled"] == {"open_deals": 1, "pipeline": "1500.00", "weighted": "150.00"}
    strict = ok(shop.get(f"/v1/pipelines/{pid}/forecast",
                         params={"from": "2026-04-01", "months": 1, "commit_threshold": 75}))
    assert strict["months"][0]["commit"] == "0.00" and strict["months"][0]["best"] == "4000.00"


def test_the_stage_funnel_of_a_pipeline(data):
    shop, pid, _ = data
    report = ok(shop.get(f"/v1/pipelines/{pid}/funnel", params={**PERIOD, "window_days": 180}))
    # Entered brief in the period: A, B, C, E (G before it; D and F opened in design).
    assert [(s["name"], s["reached"], s["drop_off"], s["conversion_from_previous"])
            for s in report["steps"]] == [("Brief", 4, 0, 1.0), ("Design", 2, 2, 0.5),
                                          ("Quote", 1, 1, 0.5), ("won", 1, 0, 1.0)]
    assert report["steps"][1]["median_seconds_from_previous"] == 10 * 86400   # A and B: 10 days
    assert (report["overall_conversion"], report["median_seconds_to_convert"]) == (0.25, 30 * 86400)
    short = ok(shop.get(f"/v1/pipelines/{pid}/funnel", params={**PERIOD, "window_days": 15}))
    assert [s["reached"] for s in short["steps"]] == [4, 2, 0, 0]  # A reached quote on day 20
    chart = shop.get(f"/v1/pipelines/{pid}/funnel.svg", params=PERIOD)
    assert chart.status_code == 200 and "Funnel: stages of Commissions" in chart.text
    assert "4 (100.0%)" in chart.text and "1 (25.0%)" in chart.text
