"""Quotes (revisions, send, accept into the deal's value, reject, expiry against the app's
clock, the PDF a customer receives) and contracts (lifecycle, renewals due, reminder tasks)."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

import pytest
from uuid import uuid4
from pypdf import PdfReader

from tests.support import assert_problem

TODAY = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = TODAY

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(module_app):
    module_app.state.clock = Clock()
    yield module_app.state.clock
    module_app.state.clock = None


@pytest.fixture
def shop(make_tenant):
    return make_tenant("Potter's Wheel")


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def deal_with_items(shop) -> tuple[dict, dict]:
    customer = shop.register("Café Luna", "orders@cafeluna.example")
    deal = ok(shop.post("/v1/opportunities", {
        "customer_id": customer["id"], "title": "Café Luna mugs", "currency": "GBP", "line_items": [
            {"product_id": "MUG-1", "name": "Stoneware mug", "quantity": "24", "unit_price": "12.50",
             "discount": "10"},
            {"name": "Serving jug", "quantity": "2", "unit_price": "30"}]}), 201)
    return customer, deal


def test_a_quote_is_drafted_from_the_deal_revised_sent_and_accepted_into_the_deal_value(shop, clock):
    _, deal = deal_with_items(shop)
    quote = ok(shop.post(f"/v1/opportunities/{deal['id']}/quotes",
                         {"tax_rate": "20", "valid_until": "2026-03-31", "terms": "Net 30."}), 201)
    view = ok(shop.get(f"/v1/quotes/{quote['id']}", token=quote["consistency_token"]))
    assert (view["status"], view["revision"], view["subtotal"], view["tax"], view["total"]) == \
        ("draft", 1, "330.00", "66.00", "396.00")
    assert [line["total"] for line in view["lines"]] == ["270.00", "60.00"]

    ok(shop.post(f"/v1/quotes/{quote['id']}/send", {}))
    revised = ok(shop.post(f"/v1/quotes/{quote['id']}/revise", {"lines": [
        {"name": "Stoneware mug", "quantity": "48", "unit_price": "12.50", "discount": "12.5"}]}))
    view = ok(shop.get(f"/v1/quotes/{quote['id']}", token=revised["consistency_token"]))
    assert (view["status"], view["revision"], view["subtotal"], view["tax"], view["total"],
            view["terms"]) == ("draft", 2, "525.00", "105.00", "630.00", "Net 30.")
    assert_problem(shop.post(f"/v1/quotes/{quote['id']}/accept", {}), 409)  # a draft: send first
    ok(shop.post(f"/v1/quotes/{quote['id']}/send", {}))
    accepted = ok(shop.post(f"/v1/quotes/{quote['id']}/accept", {}))

    view = ok(shop.get(f"/v1/opportunities/{deal['id']}", token=accepted["consistency_token"]))
    assert view["value"] == "525.00"  # the accepted quote's subtotal (before tax)
    quotes = ok(shop.get(f"/v1/opportunities/{deal['id']}/quotes", token=accepted["consistency_token"]))
    assert [(q["status"], q["revision"]) for q in quotes] == [("accepted", 2)]
    assert_problem(shop.post(f"/v1/quotes/{quote['id']}/revise", {"terms": "x"}), 409)
    assert_problem(shop.post(f"/v1/quotes/{quote['id']}/reject", {}), 409)


def test_accepting_without_updating_the_deal_and_rejecting(shop, clock):
    _, deal = deal_with_items(shop)
    first = ok(shop.post(f"/v1/opportunities/{deal['id']}/quotes", {
        "valid_until": "2026-03-20", "lines": [{"name": "Mug", "quantity": "10", "unit_price": "9"}]}), 201)
    second = ok(shop.post(f"/v1/opportunities/{deal['id']}/quotes", {"valid_until": "2026-03-20"}), 201)
    for quote in (first, second):
        ok(shop.post(f"/v1/quotes/{quote['id']}/send", {}))
    rejected = ok(shop.post(f"/v1/quotes/{first['id']}/reject", {"reason": "Too many"}))
    accepted = ok(shop.post(f"/v1/quotes/{second['id']}/accept", {"update_deal_value": False}))
    view = ok(shop.get(f"/v1/opportunities/{deal['id']}", token=accepted["consistency_token"]))
    assert view["value"] == "330.00"
    shop.get("/v1/pipelines", token=rejected["consistency_token"])
    quotes = ok(shop.get(f"/v1/opportunities/{deal['id']}/quotes"))
    assert [(q["status"], q["reason"]) for q in quotes] == [("rejected", "Too many"), ("accepted", None)]


def test_a_quote_expires_after_its_valid_until_day_by_the_apps_clock(shop, clock):
    _, deal = deal_with_items(shop)
    quote = ok(shop.post(f"/v1/opportunities/{deal['id']}/quotes", {"valid_until": "2026-03-15"}), 201)
    sent = ok(shop.client.post(f"/v1/quotes/{quote['id']}/send", headers=shop.headers))  # no body
    assert_problem(shop.post(f"/v1/quotes/{quote['id']}/expire", {}), 409)  # still valid
    clock.now = datetime(2026, 3, 15, 23, 59, tzinfo=timezone.utc)  # its last valid day
    assert ok(shop.get(f"/v1/quotes/{quote['id']}", token=sent["consistency_token"]))["status"] == "sent"

    clock.now = datetime(2026, 3, 16, 0, 1, tzinfo=timezone.utc)
    view = ok(shop.get(f"/v1/quotes/{quote['id']}"))
    assert (view["status"], view["stored_status"]) == ("expired", "sent")  # expired when read
    refused = assert_problem(shop.post(f"/v1/quotes/{quote['id']}/accept", {}), 409)
    assert "expired on 2026-03-15" in refused["detail"]
    expired = ok(shop.post(f"/v1/quotes/{quote['id']}/expire", {}))
    view = ok(shop.get(f"/v1/quotes/{quote['id']}", token=expired["consistency_token"]))
    assert (view["status"], view["stored_status"]) == ("expired", "expired")
    assert_problem(shop.post(f"/v1/quotes/{quote['id']}/send", {}), 409)
    # A revision with a new date makes it current again.
    assert_problem(shop.post(f"/v1/quotes/{quote['id']}/revise", {"valid_until": "2026-03-01"}), 422,
                   "valid_until")
    ok(shop.post(f"/v1/quotes/{quote['id']}/revise", {"valid_until": "2026-04-15"}))
    ok(shop.post(f"/v1/quotes/{quote['id']}/send", {}))
    ok(shop.post(f"/v1/quotes/{quote['id']}/accept", {}))


def test_a_quote_renders_to_a_pdf_with_its_lines_totals_and_terms(shop, clock):
    _, deal = deal_with_items(shop)
    quote = ok(shop.post(f"/v1/opportunities/{deal['id']}/quotes", {
        "tax_rate": "20", "valid_until": "2026-03-31",
        "terms": "Payment within 30 days. Delivery in 3 weeks."}), 201)
    pdf = shop.get(f"/v1/quotes/{quote['id']}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    number = f"Q-{quote['id'].replace('-', '')[:8].upper()}"
    for expected in ("Potter's Wheel", f"Quote {number} (revision 1)", "Valid until 2026-03-31",
                     "Café Luna", "orders@cafeluna.example", "Regarding: Café Luna mugs",
                     "Stoneware mug (MUG-1)", "24", "GBP 12.50", "10%", "GBP 270.00", "Serving jug",
                     "GBP 60.00", "Subtotal", "GBP 330.00", "Tax (20%)", "GBP 66.00", "Total",
                     "GBP 396.00", "Payment within 30 days. Delivery in 3 weeks."):
        assert expected in text, expected
    assert reader.metadata.title == f"Quote {number}"
    assert_problem(shop.get(f"/v1/quotes/{deal['id']}/pdf"), 404)


def test_bad_quotes_are_refused(shop, clock):
    _, deal = deal_with_items(shop)
    url = f"/v1/opportunities/{deal['id']}/quotes"
    assert_problem(shop.post(url, {"valid_until": "2026-03-01"}), 422, "valid_until")
    assert_problem(shop.post(url, {"valid_until": "2026-04-01", "tax_rate": "101"}), 422, "tax_rate")
    assert_problem(shop.post(url, {"valid_until": "2026-04-01", "lines": []}), 422, "lines")
    assert_problem(shop.post(f"/v1/opportunities/{uuid4()}/quotes", {"valid_until": "2026-04-01"}),
                   404)


# -- contracts ----------------------------------------------------------------------------------


def contract(shop, customer_id: str, title: str, start: str, end: str, **fields) -> dict:
    created = ok(shop.post("/v1/contracts", {"customer_id": customer_id, "title": title,
                                             "type": "subscription", "start_date": start,
                                             "end_date": end, **fields}), 201)
    return ok(shop.post(f"/v1/contracts/{created['id']}/activate", {}))


def test_contracts_up_for_renewal_within_n_days_and_their_reminder_tasks(shop, clock):
    customer = shop.register()
    soon = contract(shop, customer["id"], "Café beans", "2025-03-20", "2026-03-20",
                    value="1200", currency="gbp")
    contract(shop, customer["id"], "Honey box", "2025-06-01", "2026-06-01", renewal_date="2026-03-25")
    candles = contract(shop, customer["id"], "Candles", "2025-03-01", "2026-03-18")
    past = contract(shop, customer["id"], "Old aprons", "2025-01-01", "2026-03-01")
    draft = ok(shop.post("/v1/contracts", {"customer_id": customer["id"], "title": "Draft",
                                           "type": "wholesale", "start_date": "2026-03-01",
                                           "end_date": "2026-03-12"}), 201)
    # Renewed: its next renewal date (the new end) is out of the 30 days.
    last = ok(shop.post(f"/v1/contracts/{candles['id']}/renew", {"end_date": "2027-03-18"}))

    due = ok(shop.get("/v1/contracts/renewals", params={"within_days": 30},
                      token=last["consistency_token"]))
    assert [(c["title"], c["renewal_date"], c["days_to_renewal"]) for c in due] == [
        ("Café beans", "2026-03-20", 10), ("Honey box", "2026-03-25", 15)]
    assert due[0]["value"] == "1200.00"
    renewed = ok(shop.get(f"/v1/contracts/{candles['id']}"))
    assert (renewed["end_date"], renewed["renewal_date"], renewed["renewals"]) == \
        ("2027-03-18", "2027-03-18", 1)
    assert [c["title"] for c in ok(shop.get("/v1/contracts/renewals",
                                            params={"within_days": 10}))] == ["Café beans"]
    page = ok(shop.get("/v1/contracts", params={"status": "ended"}))
    assert [c["id"] for c in page["items"]] == [past["id"]]
    assert ok(shop.get(f"/v1/contracts/{draft['id']}"))["status"] == "draft"

    run = ok(shop.post("/v1/contracts/renewal-reminders", params={"within_days": 30}))
    assert len(run["created"]) == 2 and run["already_existed"] == []
    again = ok(shop.post("/v1/contracts/renewal-reminders", params={"within_days": 30}))
    assert again == {"created": [], "already_existed": run["created"]}
    task_id = run["created"][0]
    task = ok(shop.get(f"/v1/tasks/{task_id}", token=f"{task_id.replace('-', '')}.1"))
    assert task["title"] == "Renewal due 2026-03-20: Café beans"
    assert (task["priority"], task["customer_id"]) == ("normal", customer["id"])
    assert task["due_at"].startswith("2026-03-20T09:00")

    cancelled = ok(shop.post(f"/v1/contracts/{soon['id']}/cancel", {"reason": "Closing the café"}))
    assert ok(shop.get(f"/v1/contracts/{soon['id']}", token=cancelled["consistency_token"]))[
        "status"] == "cancelled"
    assert [c["title"] for c in ok(shop.get("/v1/contracts/renewals"))] == ["Honey box"]


def test_bad_contracts_are_refused(shop, clock):
    customer = shop.register()
    base = {"customer_id": customer["id"], "title": "X", "type": "subscription",
            "start_date": "2026-01-01", "end_date": "2026-12-31"}
    assert_problem(shop.post("/v1/contracts", {**base, "end_date": "2025-12-31"}), 422, "end_date")
    assert_problem(shop.post("/v1/contracts", {**base, "renewal_date": "2027-01-31"}), 422,
                   "renewal_date")
    assert_problem(shop.post("/v1/contracts", {**base, "type": "forever"}), 422, "type")
    created = ok(shop.post("/v1/contracts", base), 201)
    assert_problem(shop.post(f"/v1/contracts/{created['id']}/renew", {"end_date": "2027-12-31"}), 409)
    ok(shop.post(f"/v1/contracts/{created['id']}/activate", {}))
    assert_problem(shop.post(f"/v1/contracts/{created['id']}/renew", {"end_date": "2026-06-30"}), 422,
                   "end_date")


def test_quotes_and_contracts_show_on_the_customers_timeline(shop, clock):
    customer, deal = deal_with_items(shop)
    quote = ok(shop.post(f"/v1/opportunities/{deal['id']}/quotes", {"valid_until": "2026-03-31"}), 201)
    ok(shop.post(f"/v1/quotes/{quote['id']}/send", {}))
    ok(shop.post(f"/v1/quotes/{quote['id']}/accept", {}))
    created = contract(shop, customer["id"], "Café beans", "2026-03-01", "2027-03-01")
    timeline = ok(shop.get(f"/v1/customers/{customer['id']}/timeline",
                           token=created["consistency_token"]))
    summaries = [entry["summary"] for entry in timeline["items"]]
    number = f"Q-{quote['id'].replace('-', '')[:8].upper()}"
    assert f"Quote {number} drafted: 330.00 GBP (valid until 2026-03-31)" in summaries
    assert "Quote accepted (revision 1): 330.00 GBP" in summaries
    assert "Contract: Café beans (subscription, 2026-03-01 to 2027-03-01)" in summaries
    kinds = ok(shop.get(f"/v1/customers/{customer['id']}/timeline", params={"kind": "contract"}))
    assert [entry["event_type"] for entry in kinds["items"]] == ["Contract.Created"]
