"""Campaign analytics through HTTP: the funnel from audience to ordered, orders attributed by
last touch within the window, revenue, cost and ROI, and the funnel as an SVG image."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.support import assert_problem
from tests.test_sending import (approved_template, clock, customer, launch, local, marketing, recipients,  # noqa: F401
                                settle, shop, smtp, worker)


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


def order(shop, customer_id: str, order_id: str, amount: str, when: datetime) -> None:
    _ok(shop.post(f"/v1/customers/{customer_id}/orders", {
        "order_id": order_id, "amount": amount, "currency": "GBP", "item_count": 1,
        "occurred_at": when.isoformat()}))


def stages(view: dict) -> dict[str, int]:
    return {stage["name"]: stage["count"] for stage in view["stages"]}


def test_the_funnel_revenue_and_roi_of_a_campaign(module_app, shop, smtp, marketing, clock):
    module_app.state.marketing = replace(marketing, cost_per_email=Decimal("0.50"))
    try:
        ana = customer(shop, "Ana Clicks", "ana@funnel.example")
        ben = customer(shop, "Ben Opens", "ben@funnel.example")
        cat = customer(shop, "Cat Ignores", "cat@funnel.example")
        dov = customer(shop, "Dov Bounces", "dov+reject@funnel.example")
        eli = customer(shop, "Eli Out", "eli@funnel.example", status="opted_out")
        before = datetime.now(timezone.utc) - timedelta(days=3)
        order(shop, ana, "A-0", "99.00", before)               # before the campaign: not its
        template = approved_template(shop, {"name": "Sale", "channel": "email", "subject": "Sale",
                                            "text": "Hi {{ customer.first_name }}, shop at "
                                                    "https://shop.example/sale today."})
        campaign = launch(shop, template, [ana, ben, cat, dov, eli], per_minute=100_000)
        clock.advance(seconds=1)
        worker(module_app, marketing, clock, shop).run_until_idle()
        [mail_ana] = smtp[0].to("ana@funnel.example")
        [mail_ben] = smtp[0].to("ben@funnel.example")
        html = mail_ana.part("html")
        click = html.split('href="')[1].split('"')[0]     # the text's URL, linked and tracked
        assert "/v1/t/c/" in click and ">https://shop.example/sale</a>" in html
        assert shop.client.get(local(click), follow_redirects=False).status_code == 302
        pixel = mail_ben.part("html").split('<img src="')[1].split('"')[0]
        assert shop.client.get(local(pixel)).status_code == 200
        touched = datetime.now(timezone.utc)
        order(shop, ana, "A-1", "50.00", touched + timedelta(days=2))    # 2 days after her click
        order(shop, ben, "B-1", "30.00", touched + timedelta(days=10))   # 10 days after his open
        order(shop, cat, "C-1", "20.00", touched + timedelta(days=1))    # never touched

        settle(shop, campaign["id"])
        week = _ok(shop.get(f"/v1/campaigns/{campaign['id']}/analytics"))
        assert week["window_days"] == 7
        assert stages(week) == {"audience": 5, "sent": 3, "delivered": 3, "opened": 2,
                                "clicked": 1, "ordered": 1}
        rates = {s["name"]: (s["rate_from_start"], s["rate_from_previous"]) for s in week["stages"]}
        assert rates["audience"] == (1.0, None)
        assert rates["sent"] == (0.6, 0.6) and rates["clicked"] == (0.2, 0.5)
        assert week["orders"] == 1
        assert week["revenue"] == [{"currency": "GBP", "amount": "50.00"}]
        assert week["cost"] == {"currency": "GBP", "amount": "1.50"}      # 3 sent x 0.50
        assert week["roi"] == pytest.approx((50 - 1.5) / 1.5, abs=1e-4)

        fortnight = _ok(shop.get(f"/v1/campaigns/{campaign['id']}/analytics",
                                 params={"window_days": 14}))
        assert stages(fortnight)["ordered"] == 2
        assert fortnight["revenue"] == [{"currency": "GBP", "amount": "80.00"}]

        attributed = _ok(shop.get(f"/v1/campaigns/{campaign['id']}/attributed-orders"))
        assert [(o["order_id"], o["customer_id"], o["amount"]) for o in attributed] == [
            ("A-1", ana, "50.00")]
        assert attributed[0]["message_id"] == recipients(shop, campaign["id"])[ana]["id"]

        chart = shop.get(f"/v1/campaigns/{campaign['id']}/funnel.svg")
        assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
        svg = ElementTree.fromstring(chart.content)
        texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
        assert {"Audience", "Sent", "Delivered", "Opened", "Clicked", "Ordered"} <= set(texts)
        assert "5 (100.0%)" in texts and "1 (20.0%)" in texts
        assert any("GBP 50.00" in (t or "") for t in texts)
        assert_problem(shop.get("/v1/campaigns/00000000-0000-0000-0000-000000000000/analytics"), 404)
    finally:
        module_app.state.marketing = marketing
