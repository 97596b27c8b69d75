"""The spine, end to end: a command through HTTP, the event store, a projection, a query."""

from __future__ import annotations


def test_registering_a_customer_shows_on_its_timeline_at_once(tenant):
    created = tenant.register("Ada Potter", "Ada@Example.com", phone="+44 7911 123456", source="etsy")

    timeline = tenant.get(f"/v1/customers/{created['id']}/timeline", token=created["consistency_token"])

    assert timeline.status_code == 200
    [entry] = timeline.json()["items"]
    assert entry["event_type"] == "Customer.Registered"
    assert entry["data"]["email"] == "Ada@example.com"
    assert entry["data"]["phone"] == "+447911123456"


def test_an_order_updates_the_360_view(tenant):
    customer = tenant.register()
    order = tenant.post(f"/v1/customers/{customer['id']}/orders",
                        {"order_id": "A-1", "amount": "24.50", "currency": "gbp", "item_count": 2,
                         "occurred_at": "2026-03-01T10:00:00Z"})
    assert order.status_code == 201
    assert order.json()["version"] == 2

    view = tenant.get(f"/v1/customers/{customer['id']}", token=order.json()["consistency_token"]).json()

    assert view["order_count"] == 1
    assert view["lifetime_spend"] == "24.50"
    assert view["currency"] == "GBP"
    assert view["version"] == 2


def test_the_same_order_id_twice_is_a_no_op(tenant):
    customer = tenant.register()
    order = {"order_id": "A-1", "amount": "10.00", "currency": "GBP", "item_count": 1}
    first = tenant.post(f"/v1/customers/{customer['id']}/orders", order).json()
    second = tenant.post(f"/v1/customers/{customer['id']}/orders", order).json()

    assert second["version"] == first["version"] == 2
    view = tenant.get(f"/v1/customers/{customer['id']}", token=second["consistency_token"]).json()
    assert view["order_count"] == 1
    assert view["lifetime_spend"] == "10.00"
