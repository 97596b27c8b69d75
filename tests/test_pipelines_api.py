"""Pipelines, stages and the board through HTTP: custom stages, archiving, reordering,
the deal's extended life (line items, details, contacts, win/lose/reopen), stage history,
and concurrent stage moves. One service per module (and backend); a tenant per test."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest

from tests.support import assert_problem

NOW = datetime.now(timezone.utc)


@pytest.fixture
def shop(make_tenant):
    return make_tenant("Potter's Wheel")


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def wholesale(shop) -> dict:
    return ok(shop.post("/v1/pipelines", {"name": "Wholesale", "stages": [
        {"name": "Enquiry", "probability": 10, "rotting_days": 7},
        {"name": "Samples sent", "probability": 30, "rotting_days": 14},
        {"name": "Terms agreed", "probability": 80},
        {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]}), 201)


def open_deal(shop, customer_id: str, pipeline_id: str | None = None, **fields) -> dict:
    body = {"customer_id": customer_id, "title": "Café mugs", "value": "100", "currency": "GBP",
            **({"pipeline_id": pipeline_id} if pipeline_id else {}), **fields}
    return ok(shop.post("/v1/opportunities", body), 201)


def test_a_pipeline_has_ordered_stages_with_ids_probabilities_and_kinds(shop):
    created = wholesale(shop)
    pipeline = ok(shop.get(f"/v1/pipelines/{created['id']}", token=created["consistency_token"]))
    assert [(s["id"], s["probability"], s["rotting_days"], s["kind"]) for s in pipeline["stages"]] == [
        ("enquiry", 10, 7, "open"), ("samples-sent", 30, 14, "open"), ("terms-agreed", 80, None, "open"),
        ("won", 100, None, "won"), ("lost", 0, None, "lost")]
    renamed = ok(shop.patch(f"/v1/pipelines/{created['id']}", {"name": "Trade orders"},
                            headers={"If-Match": '"1"'}))
    assert_problem(shop.patch(f"/v1/pipelines/{created['id']}", {"name": "Again"},
                              headers={"If-Match": '"1"'}), 409)
    listed = ok(shop.get("/v1/pipelines", token=renamed["consistency_token"]))
    assert [(p["name"], p["version"]) for p in listed] == [("Default", 0), ("Trade orders", 2)]
    assert [s["id"] for s in listed[0]["stages"]] == ["lead", "qualified", "proposal", "negotiation"]
    default = ok(shop.get("/v1/pipelines/default"))
    assert default["id"] is None and default["stages"][0]["probability"] == 10


def test_bad_pipelines_are_refused_clearly(shop):
    assert_problem(shop.post("/v1/pipelines", {"name": "X", "stages": [{"name": "Won", "kind": "won"}]}),
                   422, "stages")
    assert_problem(shop.post("/v1/pipelines", {"name": "X", "stages": [
        {"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}), 422, "stages[1].id")
    assert_problem(shop.post("/v1/pipelines", {"name": "X", "stages": [
        {"name": "A", "probability": 101}]}), 422, "stages[0].probability")
    assert_problem(shop.get("/v1/pipelines/nope"), 404)


def test_stages_are_added_renamed_and_reordered_with_deals_in_them(shop):
    pipeline = wholesale(shop)
    pid = pipeline["id"]
    customer = shop.register()
    deals = [open_deal(shop, customer["id"], pid, stage=stage, value=value)
             for stage, value in (("enquiry", "100"), ("samples-sent", "200"), ("samples-sent", "50"))]
    ok(shop.post(f"/v1/pipelines/{pid}/stages", {"name": "Tasting", "probability": 40, "position": 2}),
       201)
    ok(shop.patch(f"/v1/pipelines/{pid}/stages/samples-sent", {"name": "Samples out",
                                                               "probability": 35}))
    order = ["samples-sent", "enquiry", "tasting", "terms-agreed", "won", "lost"]
    done = ok(shop.client.put(f"/v1/pipelines/{pid}/stages/order", json={"order": order},
                              headers=shop.headers))

    board = ok(shop.get(f"/v1/pipelines/{pid}/board", token=done["consistency_token"]))
    assert [c["stage"] for c in board["stages"]] == order
    assert [c["name"] for c in board["stages"]][:3] == ["Samples out", "Enquiry", "Tasting"]
    by_stage = {c["stage"]: c for c in board["stages"]}
    assert by_stage["samples-sent"]["count"] == 2
    assert by_stage["samples-sent"]["totals"] == [
        {"currency": "GBP", "count": 2, "total": "250.00", "weighted_total": "75.00"}]
    assert by_stage["enquiry"]["deals"][0]["id"] == deals[0]["id"]
    # A deal keeps the probability of the stage when it entered it (30%, not the new 35%).
    assert {d["weighted_value"] for d in by_stage["samples-sent"]["deals"]} == {"60.00", "15.00"}

    missing = shop.client.put(f"/v1/pipelines/{pid}/stages/order", json={"order": order[:-1]},
                              headers=shop.headers)
    assert "missing lost" in assert_problem(missing, 422, "order")["errors"][0]["reason"]


def test_moving_a_deal_into_an_archived_stage_is_refused_clearly(shop):
    pid = wholesale(shop)["id"]
    customer = shop.register()
    staying = open_deal(shop, customer["id"], pid, stage="samples-sent")
    moving = open_deal(shop, customer["id"], pid)
    archived = ok(shop.post(f"/v1/pipelines/{pid}/stages/samples-sent/archive", {}))

    refused = shop.post(f"/v1/opportunities/{moving['id']}/stage", {"stage": "samples-sent"})
    reason = assert_problem(refused, 422, "stage")["errors"][0]["reason"]
    assert "archived" in reason and "Samples sent" in reason
    assert_problem(shop.post(f"/v1/opportunities/{moving['id']}/stage", {"stage": "nowhere"}),
                   422, "stage")
    assert_problem(shop.client.post(f"/v1/pipelines/{pid}/stages/samples-sent/archive",  # no body
                                    headers=shop.headers), 409)

    # The deal already there stays, shown in the (archived) column; it may move out.
    board = ok(shop.get(f"/v1/pipelines/{pid}/board", token=archived["consistency_token"]))
    column = next(c for c in board["stages"] if c["stage"] == "samples-sent")
    assert column["archived"] and [d["id"] for d in column["deals"]] == [staying["id"]]
    ok(shop.post(f"/v1/opportunities/{staying['id']}/stage", {"stage": "terms-agreed"}))
    restored = ok(shop.post(f"/v1/pipelines/{pid}/stages/samples-sent/restore", {}))
    ok(shop.post(f"/v1/opportunities/{moving['id']}/stage", {"stage": "samples-sent"}))
    board = ok(shop.get(f"/v1/pipelines/{pid}/board", token=restored["consistency_token"]))
    assert not next(c for c in board["stages"] if c["stage"] == "samples-sent")["archived"]


def test_a_board_column_pages_with_a_keyset_cursor(shop):
    customer = shop.register()
    ids = [open_deal(shop, customer["id"], stage="proposal", title=f"Deal {n}",
                     occurred_at=(NOW - timedelta(days=10 - n)).isoformat())["id"] for n in range(5)]
    last = open_deal(shop, customer["id"], stage="lead")
    board = ok(shop.get("/v1/pipelines/default/board", token=last["consistency_token"],
                        params={"limit": 2}))
    proposal = next(c for c in board["stages"] if c["stage"] == "proposal")
    assert proposal["count"] == 5 and len(proposal["deals"]) == 2
    seen, cursor = [d["id"] for d in proposal["deals"]], proposal["next_cursor"]
    while cursor:
        page = ok(shop.get("/v1/pipelines/default/board",
                           params={"stage": "proposal", "cursor": cursor, "limit": 2}))
        [column] = page["stages"]
        seen += [d["id"] for d in column["deals"]]
        cursor = column["next_cursor"]
    assert seen == ids  # oldest in the stage first, every deal once
    assert proposal["totals"][0]["weighted_total"] == "250.00"  # 5 x 100 x 50%
    assert_problem(shop.get("/v1/pipelines/default/board", params={"cursor": "abc"}), 422, "stage")
    assert_problem(shop.get("/v1/pipelines/default/board", params={"stage": "proposal",
                                                                   "cursor": "!!"}), 400, "cursor")


def test_closed_deals_show_in_their_closed_column_only(shop):
    pid = wholesale(shop)["id"]
    customer = shop.register()
    won, lost, still_open = (open_deal(shop, customer["id"], pid, stage="samples-sent",
                                       title=title)["id"] for title in ("Won", "Lost", "Open"))
    ok(shop.post(f"/v1/opportunities/{won}/win", {}))
    last = ok(shop.post(f"/v1/opportunities/{lost}/lose", {"reason": "price"}))
    board = ok(shop.get(f"/v1/pipelines/{pid}/board", token=last["consistency_token"]))
    shown = {c["stage"]: [d["id"] for d in c["deals"]] for c in board["stages"]}
    assert shown == {"enquiry": [], "samples-sent": [still_open], "terms-agreed": [],
                     "won": [won], "lost": [lost]}


def test_the_board_chart_is_an_svg_with_a_bar_per_stage(shop):
    customer = shop.register()
    last = open_deal(shop, customer["id"], stage="qualified", value="320")
    shop.get("/v1/pipelines/default/board", token=last["consistency_token"])
    chart = shop.get("/v1/pipelines/default/board.svg")
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    svg = ET.fromstring(chart.text)
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "Pipeline: Default" in texts
    assert {"Lead", "Qualified", "Proposal", "Negotiation"} <= set(texts)
    assert "1 deals, GBP 320.00 (weighted 80.00)" in texts


def test_line_items_details_and_contacts_of_a_deal(shop):
    customer, buyer = shop.register(), shop.register("Bea Baker", "bea@example.com")
    deal = open_deal(shop, customer["id"], value=None, source="wholesale-fair",
                     contact_ids=[buyer["id"]], expected_close="2026-09-30", line_items=[
                         {"product_id": "MUG-1", "name": "Mug", "quantity": "24", "unit_price": "12.50",
                          "discount": "10"},
                         {"name": "Jug", "unit_price": "30"}])
    view = ok(shop.get(f"/v1/opportunities/{deal['id']}", token=deal["consistency_token"]))
    assert view["value"] == "300.00"  # 24 x 12.50 less 10% = 270.00, + 30.00
    assert [i["total"] for i in view["line_items"]] == ["270.00", "30.00"]
    assert view["contact_ids"] == [buyer["id"]] and view["source"] == "wholesale-fair"
    assert view["probability"] == 10 and view["pipeline_id"] is None

    ok(shop.client.put(f"/v1/opportunities/{deal['id']}/line-items", headers=shop.headers,
                       json={"line_items": [{"name": "Mug", "quantity": "48", "unit_price": "12.50"}]}))
    ok(shop.patch(f"/v1/opportunities/{deal['id']}", {"probability": 35, "owner": "tom",
                                                      "expected_close": "2026-10-15"}))
    ok(shop.client.delete(f"/v1/opportunities/{deal['id']}/contacts/{buyer['id']}",
                          headers=shop.headers))
    last = ok(shop.post(f"/v1/opportunities/{deal['id']}/contacts", {"contact_id": customer["id"]}))
    view = ok(shop.get(f"/v1/opportunities/{deal['id']}", token=last["consistency_token"]))
    assert (view["value"], view["probability"], view["owner"], view["expected_close"]) == \
        ("600.00", 35, "tom", "2026-10-15")
    assert view["contact_ids"] == [customer["id"]]
    listed = ok(shop.get("/v1/opportunities", params={"customer_id": customer["id"]}))
    assert listed["items"][0]["value"] == "600.00"  # the original list sees derived values too

    assert_problem(shop.post("/v1/opportunities", {"customer_id": customer["id"], "title": "X",
                                                   "currency": "GBP"}), 422, "value")
    assert_problem(shop.patch(f"/v1/opportunities/{deal['id']}", {"expected_close": None}), 422,
                   "expected_close")
    assert_problem(shop.client.put(f"/v1/opportunities/{deal['id']}/line-items", headers=shop.headers,
                                   json={"line_items": [{"name": "Mug", "unit_price": "1",
                                                         "discount": "120"}]}),
                   422, "line_items[0].discount")


def test_win_lose_with_reasons_and_reopen_in_a_custom_pipeline(shop):
    pid = wholesale(shop)["id"]
    customer = shop.register()
    won = open_deal(shop, customer["id"], pid, stage="terms-agreed")
    lost = open_deal(shop, customer["id"], pid)
    closed = ok(shop.post(f"/v1/opportunities/{won['id']}/win", {"reason": "Loved the samples"}))
    # Dragging a deal onto the lost stage loses it, and needs a reason.
    assert_problem(shop.post(f"/v1/opportunities/{lost['id']}/stage", {"stage": "lost"}), 422, "reason")
    ok(shop.post(f"/v1/opportunities/{lost['id']}/stage", {"stage": "lost", "reason": "Too dear"}))
    view = ok(shop.get(f"/v1/opportunities/{won['id']}", token=closed["consistency_token"]))
    assert (view["status"], view["stage"], view["probability"], view["reason"]) == \
        ("won", "won", 100, "Loved the samples")

    last = ok(shop.post(f"/v1/opportunities/{lost['id']}/reopen", {}))
    assert_problem(shop.post(f"/v1/opportunities/{lost['id']}/reopen", {}), 409)
    view = ok(shop.get(f"/v1/opportunities/{lost['id']}", token=last["consistency_token"]))
    assert (view["status"], view["stage"], view["reason"], view["probability"]) == \
        ("open", "enquiry", None, 10)
    board = ok(shop.get(f"/v1/pipelines/{pid}/board"))
    columns = {c["stage"]: c for c in board["stages"]}
    assert [d["id"] for d in columns["won"]["deals"]] == [won["id"]]
    assert columns["lost"]["count"] == 0 and columns["enquiry"]["count"] == 1
    summary = ok(shop.get(f"/v1/customers/{customer['id']}", token=last["consistency_token"]))
    assert (summary["open_opportunities"], summary["won_opportunities"]) == (1, 1)


def test_stage_history_records_each_move_and_the_time_in_each_stage(shop):
    customer = shop.register()
    start = (NOW - timedelta(days=10)).replace(microsecond=0)
    at = lambda days: (start + timedelta(days=days)).isoformat()  # noqa: E731
    deal = open_deal(shop, customer["id"], occurred_at=at(0), expected_close="2026-12-01")
    url = f"/v1/opportunities/{deal['id']}"
    ok(shop.post(f"{url}/stage", {"stage": "qualified", "occurred_at": at(2)}))
    ok(shop.post(f"{url}/value", {"value": "150"}))
    ok(shop.post(f"{url}/stage", {"stage": "proposal", "occurred_at": at(5)}))
    ok(shop.post(f"{url}/stage", {"stage": "qualified", "occurred_at": at(6)}))
    last = ok(shop.post(f"{url}/lose", {"reason": "Went quiet", "occurred_at": at(9)}))
    assert_problem(shop.post(f"{url}/reopen", {"occurred_at": at(8)}), 422, "occurred_at")

    history = ok(shop.get(f"{url}/stage-history", token=last["consistency_token"]))
    moves = [(c["change"], c["previous_stage"], c["stage"], c["amount"], c["probability"])
             for c in history["changes"]]
    assert moves == [("opened", None, "lead", "100.00", 10),
                     ("stage", "lead", "qualified", "100.00", 25),
                     ("amount", None, None, "150.00", None),
                     ("stage", "qualified", "proposal", "150.00", 50),
                     ("stage", "proposal", "qualified", "150.00", 25),
                     ("lost", None, None, None, 0)]
    assert history["changes"][3]["expected_close"] == "2026-12-01"
    assert {s["stage"]: (s["days"], s["visits"]) for s in history["time_in_stage"]} == {
        "lead": (2.0, 1), "qualified": (6.0, 2), "proposal": (1.0, 1)}
    assert history["stages"][-1]["status"] == "lost" and history["stages"][-1]["days"] is None
    assert_problem(shop.get(f"/v1/opportunities/{customer['id']}/stage-history"), 404)


def test_concurrent_stage_moves_one_wins_the_other_gets_409(shop):
    customer = shop.register()
    deal = open_deal(shop, customer["id"])
    barrier, answers = threading.Barrier(2), []

    def move(stage: str) -> None:
        barrier.wait()
        answers.append(shop.post(f"/v1/opportunities/{deal['id']}/stage", {"stage": stage},
                                 headers={"If-Match": '"1"'}))

    threads = [threading.Thread(target=move, args=(stage,)) for stage in ("qualified", "proposal")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 409]
    winner = next(a for a in answers if a.status_code == 200).json()
    loser = next(a for a in answers if a.status_code == 409)
    assert assert_problem(loser, 409)["current_version"] == 2
    view = ok(shop.get(f"/v1/opportunities/{deal['id']}", token=winner["consistency_token"]))
    history = ok(shop.get(f"/v1/opportunities/{deal['id']}/stage-history"))
    assert view["version"] == 2 and len([c for c in history["changes"] if c["change"] == "stage"]) == 1


def test_another_tenants_pipeline_and_deals_are_not_found(shop, make_tenant):
    pid = wholesale(shop)["id"]
    stranger = make_tenant("Candle Corner")
    assert_problem(stranger.get(f"/v1/pipelines/{pid}"), 404)
    assert_problem(stranger.post(f"/v1/pipelines/{pid}/stages", {"name": "Mine"}), 404)
    customer = stranger.register()
    assert_problem(stranger.post("/v1/opportunities", {
        "customer_id": customer["id"], "title": "X", "value": "1", "currency": "GBP",
        "pipeline_id": pid}), 404)
