"""Opportunity routes through HTTP: open, value, stage, win, lose; lists by stage and totals."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.support import assert_problem, head, walk


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture(scope="module")
def pipeline(make_tenant):
    """Three customers and deals in every state: open at each stage, won, lost, re-valued."""
    shop = make_tenant("Pipeline shop")
    people = {name: shop.register(name, None)["id"] for name in ("Ada", "Bea", "Cai")}
    deals = {}

    def open_(key, customer, title, value, currency, stage=None, **extra):
        body = {"customer_id": people[customer], "title": title, "value": value,
                "currency": currency, **({"stage": stage} if stage else {}), **extra}
        response = shop.post("/v1/opportunities", body)
        assert response.status_code == 201, response.text
        deals[key] = response.json()["id"]
        return response.json()

    open_("mugs", "Ada", "Mugs", "100", "gbp", owner="maya", expected_close="2026-12-01")
    open_("plates", "Ada", "Plates", "250.50", "GBP", "qualified")
    open_("bowls", "Bea", "Bowls", "80.00", "EUR")
    _ok(shop.post(f"/v1/opportunities/{deals['bowls']}/stage", {"stage": "proposal"}))
    open_("jugs", "Bea", "Jugs", "40", "GBP")
    _ok(shop.post(f"/v1/opportunities/{deals['jugs']}/win", {}))
    open_("vases", "Cai", "Vases", "60", "GBP", "negotiation")
    _ok(shop.post(f"/v1/opportunities/{deals['vases']}/lose", {"reason": "price"}))
    open_("cups", "Cai", "Cups", "10", "GBP")
    _ok(shop.post(f"/v1/opportunities/{deals['cups']}/value", {"value": "15.5", "currency": "eur"}))
    for n in range(9):
        open_(f"filler{n}", "Cai", f"Filler {n}", "1.00", "GBP")
    token = _ok(shop.post(f"/v1/customers/{people['Cai']}/notes", {"text": "sync"}))["consistency_token"]
    return shop, people, deals, token


def rows(shop, token, **params) -> list[dict]:
    return [row for page in walk(shop, "/v1/opportunities", token, **params) for row in page]


def titles(shop, token, **params) -> set[str]:
    return {row["title"] for row in rows(shop, token, **params)}


def test_opening_answers_the_command_shape_and_lists_the_deal(pipeline):
    shop, people, deals, token = pipeline
    [mugs] = [r for r in rows(shop, token) if r["id"] == deals["mugs"]]
    assert {k: mugs[k] for k in ("customer_id", "title", "value", "currency", "stage", "status",
                                 "owner", "expected_close", "lost_reason", "closed_at")} == {
        "customer_id": people["Ada"], "title": "Mugs", "value": "100.00", "currency": "GBP",
        "stage": "lead", "status": "open", "owner": "maya", "expected_close": "2026-12-01",
        "lost_reason": None, "closed_at": None}
    assert mugs["opened_at"] == mugs["updated_at"]


def test_the_list_is_newest_first_and_pages_with_a_cursor(pipeline):
    shop, _, deals, token = pipeline
    everything = shop.get("/v1/opportunities", token=token, params={"limit": 200}).json()
    assert everything["next_cursor"] is None
    assert [r["id"] for r in everything["items"]] == list(reversed(deals.values()))
    pages = walk(shop, "/v1/opportunities", token, limit=4)
    assert [len(p) for p in pages] == [4, 4, 4, 3]
    assert [r["id"] for p in pages for r in p] == [r["id"] for r in everything["items"]]


@pytest.mark.parametrize("params, expected", [
    ({"stage": "lead"}, {"Mugs", "Jugs", "Cups"} | {f"Filler {n}" for n in range(9)}),
    ({"stage": "lead", "status": "open"}, {"Mugs", "Cups"} | {f"Filler {n}" for n in range(9)}),
    ({"stage": "qualified"}, {"Plates"}),
    ({"stage": "proposal"}, {"Bowls"}),
    ({"stage": "negotiation"}, {"Vases"}),
    ({"status": "won"}, {"Jugs"}),
    ({"status": "lost"}, {"Vases"}),
    ({"stage": "no-such-stage"}, set()),
])
def test_opportunities_by_stage_and_status(pipeline, params, expected):
    shop, _, _, token = pipeline
    assert titles(shop, token, **params) == expected


def test_opportunities_of_one_customer(pipeline):
    shop, people, _, token = pipeline
    assert titles(shop, token, customer_id=people["Ada"]) == {"Mugs", "Plates"}
    assert titles(shop, token, customer_id=people["Bea"], status="open") == {"Bowls"}
    assert titles(shop, token, customer_id=str(uuid4())) == set()


def test_a_stage_move_a_value_change_a_win_and_a_loss_show_in_the_rows(pipeline):
    shop, _, deals, token = pipeline
    by_id = {r["id"]: r for r in rows(shop, token)}
    assert by_id[deals["bowls"]]["stage"] == "proposal"
    assert (by_id[deals["cups"]]["value"], by_id[deals["cups"]]["currency"]) == ("15.50", "EUR")
    jugs, vases = by_id[deals["jugs"]], by_id[deals["vases"]]
    assert (jugs["status"], jugs["lost_reason"]) == ("won", None)
    assert (vases["status"], vases["lost_reason"], vases["stage"]) == ("lost", "price", "negotiation")
    for closed in (jugs, vases):
        assert closed["closed_at"] is not None and closed["closed_at"] >= closed["opened_at"]
    assert by_id[deals["mugs"]]["closed_at"] is None


def test_totals_by_stage_count_open_deals_per_currency(pipeline):
    shop, _, _, token = pipeline
    response = shop.get("/v1/opportunities/by-stage", token=token)
    assert response.status_code == 200
    totals = {(t["stage"], t["currency"]): (t["count"], t["total"]) for t in response.json()}
    assert totals == {
        ("lead", "GBP"): (10, "109.00"),       # Mugs 100 + nine fillers; Jugs (won) is not open
        ("lead", "EUR"): (1, "15.50"),          # Cups, re-valued in EUR
        ("qualified", "GBP"): (1, "250.50"),
        ("proposal", "EUR"): (1, "80.00"),
    }


def test_the_360_counts_open_and_won_deals(pipeline):
    shop, people, _, token = pipeline
    views = {name: shop.get(f"/v1/customers/{cid}", token=token).json() for name, cid in people.items()}
    assert {n: (v["open_opportunities"], v["won_opportunities"]) for n, v in views.items()} == {
        "Ada": (2, 0), "Bea": (1, 1), "Cai": (10, 0)}
    assert {d["title"] for d in views["Ada"]["open_opportunities_list"]} == {"Mugs", "Plates"}
    assert [(d["title"], d["value"], d["stage"]) for d in views["Bea"]["open_opportunities_list"]] == [
        ("Bowls", "80.00", "proposal")]


def test_deal_events_reach_the_customer_timeline(pipeline):
    shop, people, deals, token = pipeline
    items = shop.get(f"/v1/customers/{people['Bea']}/timeline", token=token,
                     params={"kind": "opportunity"}).json()["items"]
    assert [(i["summary"], i["aggregate_id"]) for i in items] == [
        ("Deal won (40.00 GBP)", deals["jugs"]),
        ("Deal opened: Jugs (40.00 GBP, lead)", deals["jugs"]),
        ("Deal moved lead → proposal", deals["bowls"]),
        ("Deal opened: Bowls (80.00 EUR, lead)", deals["bowls"]),
    ]


# -- state rules through HTTP -------------------------------------------------------------------


@pytest.fixture
def deal(make_tenant):
    shop = make_tenant("Deal shop")
    customer = shop.register("Ada", None)
    opened = _ok(shop.post("/v1/opportunities", {"customer_id": customer["id"], "title": "Mugs",
                                                 "value": "100", "currency": "GBP"}))
    return shop, opened


def test_moving_to_the_same_stage_stores_nothing(deal):
    shop, opened = deal
    path = f"/v1/opportunities/{opened['id']}"
    moved = _ok(shop.post(f"{path}/stage", {"stage": "qualified"}))
    again = _ok(shop.post(f"{path}/stage", {"stage": "qualified"}))
    assert moved["version"] == again["version"] == 2


def test_a_closed_deal_refuses_further_changes(deal, make_tenant):
    shop, opened = deal
    path = f"/v1/opportunities/{opened['id']}"
    _ok(shop.post(f"{path}/win", {}))
    before = head(shop.client.app)
    for suffix, body in (("/win", {}), ("/lose", {"reason": "price"}), ("/stage", {"stage": "proposal"}),
                         ("/value", {"value": "5"})):
        problem = assert_problem(shop.post(path + suffix, body), 409)
        assert problem["type"].endswith("invalid-transition")
    assert head(shop.client.app) == before


@pytest.mark.parametrize("suffix, body, field", [
    ("/stage", {"stage": "closed-won"}, "stage"),
    ("/lose", {"reason": "   "}, "reason"),
    ("/lose", {}, "reason"),
    ("/value", {"value": "-10"}, "value"),
    ("/value", {"value": "10", "currency": "ABC"}, "currency"),
])
def test_bad_deal_commands_are_refused(deal, suffix, body, field):
    shop, opened = deal
    before = head(shop.client.app)
    assert_problem(shop.post(f"/v1/opportunities/{opened['id']}{suffix}", body), 422, field)
    assert head(shop.client.app) == before


def test_opening_for_an_unknown_customer_stores_nothing(deal):
    shop, _ = deal
    before = head(shop.client.app)
    assert_problem(shop.post("/v1/opportunities", {"customer_id": str(uuid4()), "title": "Ghost",
                                                   "value": "1", "currency": "GBP"}), 404)
    assert head(shop.client.app) == before


def test_win_needs_no_body(deal):
    shop, opened = deal
    response = shop.client.post(f"/v1/opportunities/{opened['id']}/win", headers=shop.headers)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
