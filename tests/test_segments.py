"""Segments through HTTP: rule trees over profile, custom fields, tags, consent and spend;
membership that changes by itself as events arrive (and shows on the timeline); static
segments; analytics."""

from __future__ import annotations

PROBLEM = "application/problem+json"
BIG_NORTH = {"and": [
    {"field": "lifetime_spend", "op": "gte", "value": "100"},
    {"field": "custom.region", "op": "eq", "value": "north"},
    {"not": {"field": "tag", "op": "contains", "value": "wholesale"}}]}


def _ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def _order(tenant, customer, order_id, amount) -> dict:
    return _ok(tenant.post(f"/v1/customers/{customer['id']}/orders", {
        "order_id": order_id, "amount": amount, "currency": "GBP", "item_count": 1}), 201)


def _members(tenant, segment, token=None) -> list[str]:
    return [m["name"] for m in _ok(tenant.get(f"/v1/segments/{segment['id']}/members",
                                              token=token))["items"]]


def test_membership_follows_the_rule_as_events_arrive(tenant, other_tenant):
    _ok(tenant.post("/v1/custom-fields", {"key": "region", "label": "Region", "type": "select",
                                          "options": ["north", "south"]}), 201)
    ann = tenant.register("Ann", "ann@example.com", custom_fields={"region": "north"})
    ben = tenant.register("Ben", "ben@example.com", custom_fields={"region": "north"})
    cat = tenant.register("Cat", "cat@example.com", custom_fields={"region": "south"})
    _order(tenant, ann, "A1", "150.00")
    _order(tenant, ben, "B1", "50.00")
    _order(tenant, cat, "C1", "500.00")
    big = _ok(tenant.post("/v1/segments", {"name": "Big spenders north", "rule": BIG_NORTH}), 201)
    opted = _ok(tenant.post("/v1/segments", {"name": "Email or Ben", "rule": {"or": [
        {"field": "consent.email", "op": "eq", "value": "opted_in"},
        {"field": "name", "op": "starts_with", "value": "be"}]}}), 201)
    assert _members(tenant, big, big["consistency_token"]) == ["Ann"]

    # Ben's second order takes his spend to 110: he joins by himself, and his timeline says so.
    order = _order(tenant, ben, "B2", "60.00")
    assert _members(tenant, big, order["consistency_token"]) == ["Ann", "Ben"]
    timeline = _ok(tenant.get(f"/v1/customers/{ben['id']}/timeline"))["items"]
    assert [e["summary"] for e in timeline[:2]] == ["Entered segment Big spenders north",
                                                    "Order B2: 60.00 GBP, 1 item(s)"]
    assert timeline[0]["kind"] == "segment" and timeline[0]["aggregate_id"] == big["id"]
    # A wholesale tag takes Ann out; consent puts Cat in the other segment.
    tagged = _ok(tenant.post(f"/v1/customers/{ann['id']}/tags", {"add": ["wholesale"]}))
    assert _members(tenant, big, tagged["consistency_token"]) == ["Ben"]
    consent = _ok(tenant.post(f"/v1/customers/{cat['id']}/consent", {
        "channel": "email", "status": "opted_in", "source": "checkout"}), 201)
    assert _members(tenant, opted, consent["consistency_token"]) == ["Ben", "Cat"]
    left = _ok(tenant.get(f"/v1/customers/{ann['id']}/timeline", params={"kind": "segment"}))
    assert [e["summary"] for e in left["items"]] == ["Left segment Big spenders north",
                                                     "Entered segment Big spenders north"]

    # Changing the rule re-evaluates everyone.
    changed = _ok(tenant.client.put(f"/v1/segments/{big['id']}/rule", headers=tenant.headers, json={
        "rule": {"field": "order_count", "op": "gte", "value": 1}}))
    assert _members(tenant, big, changed["consistency_token"]) == ["Ann", "Ben", "Cat"]

    # Static segments: by hand; the 360 view lists a customer's segments.
    vip = _ok(tenant.post("/v1/segments", {"name": "Hand picked", "kind": "static"}), 201)
    _ok(tenant.post(f"/v1/segments/{vip['id']}/members", {"add": [ann["id"], cat["id"]]}))
    done = _ok(tenant.post(f"/v1/segments/{vip['id']}/members", {"remove": [ann["id"]]}))
    assert _members(tenant, vip, done["consistency_token"]) == ["Cat"]
    view = _ok(tenant.get(f"/v1/customers/{cat['id']}"))
    assert sorted(s["name"] for s in view["segments"]) == ["Big spenders north", "Email or Ben",
                                                            "Hand picked"]
    refused = tenant.post(f"/v1/segments/{big['id']}/members", {"add": [ann["id"]]})
    assert refused.status_code == 409  # a dynamic segment's members follow its rule

    # Analytics: size after each day, the members' revenue and average order, RFM mix.
    stats = _ok(tenant.get(f"/v1/segments/{big['id']}/analytics"))
    assert stats["size"] == 3 and stats["size_over_time"][-1]["size"] == 3
    assert stats["revenue"] == [{"currency": "GBP", "revenue": "760.00", "orders": 4,
                                 "average_order_value": "190.00"}]
    assert sum(s["customers"] for s in stats["rfm_share"]) == 3 and stats["without_orders"] == 0
    listed = {s["name"]: s["size"] for s in _ok(tenant.get("/v1/segments"))}
    assert listed == {"Big spenders north": 3, "Email or Ben": 2, "Hand picked": 1}
    assert _ok(tenant.post("/v1/segments/refresh"))["changes"] == 0

    # Deleting a segment: everyone leaves, the history stays.
    gone = _ok(tenant.client.delete(f"/v1/segments/{opted['id']}", headers=tenant.headers))
    assert "Email or Ben" not in [s["name"] for s in _ok(tenant.get(
        f"/v1/customers/{cat['id']}", token=gone["consistency_token"]))["segments"]]
    assert tenant.get(f"/v1/segments/{opted['id']}/members").status_code == 404
    assert _ok(tenant.get(f"/v1/segments/{big['id']}"))["size"] == 3

    # Other tenants.
    assert other_tenant.get(f"/v1/segments/{big['id']}").status_code == 404
    assert other_tenant.get(f"/v1/segments/{big['id']}/members").status_code == 404
    theirs = _ok(other_tenant.post("/v1/segments", {"name": "Mine", "kind": "static"}), 201)
    stolen = other_tenant.post(f"/v1/segments/{theirs['id']}/members", {"add": [ann["id"]]})
    assert stolen.status_code == 422 and stolen.json()["errors"][0]["field"] == "add[0]"


def test_bad_rules_are_refused_with_the_place_at_fault(tenant, app):
    head = app.state.crm.recorder.max_notification_id()
    for rule, field in (
            ({"field": "shoe_size", "op": "eq", "value": 3}, "rule.field"),
            ({"field": "order_count", "op": "contains", "value": 3}, "rule.op"),
            ({"field": "order_count", "op": "gte", "value": "many"}, "rule.value"),
            ({"and": [{"field": "custom.region", "op": "eq", "value": "x"}]}, "rule.and[0].field"),
            ({"or": []}, "rule"),
            ({"not": {"field": "rfm_segment", "op": "eq", "value": "Whales"}}, "rule.not.value"),
            ({"field": "last_order_at", "op": "within_days", "value": -1}, "rule.value"),
            ({"field": "consent.pigeon", "op": "eq", "value": "opted_in"}, "rule.field")):
        response = tenant.post("/v1/segments", {"name": "x", "rule": rule})
        assert response.status_code == 422, (rule, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert field in [e["field"] for e in response.json()["errors"]], (rule, response.text)
    no_rule = tenant.post("/v1/segments", {"name": "x", "kind": "dynamic"})
    assert no_rule.status_code == 422 and no_rule.json()["errors"][0]["field"] == "rule"
    assert app.state.crm.recorder.max_notification_id() == head


def test_time_alone_moves_customers_out_of_time_dependent_segments(tenant, app):
    from datetime import datetime, timedelta, timezone

    ada = tenant.register("Ada", "ada@example.com")
    _order(tenant, ada, "A1", "20.00")
    recent = _ok(tenant.post("/v1/segments", {"name": "Ordered this month", "rule": {
        "field": "last_order_at", "op": "within_days", "value": 30}}), 201)
    assert _members(tenant, recent, recent["consistency_token"]) == ["Ada"]

    refresher = app.state.segment_refresher  # what runs every CRM_SEGMENT_REFRESH_SECONDS
    assert refresher.run_once(datetime.now(timezone.utc) + timedelta(days=10)) == 0
    assert refresher.run_once(datetime.now(timezone.utc) + timedelta(days=40)) == 1
    assert _members(tenant, recent) == []
    timeline = _ok(tenant.get(f"/v1/customers/{ada['id']}/timeline", params={"kind": "segment"}))
    assert [e["summary"] for e in timeline["items"]] == ["Left segment Ordered this month",
                                                         "Entered segment Ordered this month"]
