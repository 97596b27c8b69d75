"""Lead management through HTTP: routing rules and round robin at registration, the unassigned
queue, BANT qualification by the tenant's rule, lifecycle moves, conversion over time."""

from __future__ import annotations

PROBLEM = "application/problem+json"


def _ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def _refused(response, field: str | None, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    if field:
        assert field in [e["field"] for e in response.json().get("errors", [])], response.text


def test_leads_route_qualify_and_convert(tenant, other_tenant, app):
    _ok(tenant.post("/v1/custom-fields", {"key": "region", "label": "Region", "type": "select",
                                          "options": ["north", "south"]}), 201)
    _ok(tenant.client.put("/v1/teams/sales", headers=tenant.headers,
                          json={"members": ["maya", "tom"]}))
    _refused(tenant.client.put("/v1/lead-settings/routing-rules", headers=tenant.headers, json={
        "rules": [{"name": "x", "when": {"source": "etsy"}, "team": "nobody"}]}), "rules[0].team")
    _ok(tenant.client.put("/v1/lead-settings/routing-rules", headers=tenant.headers, json={"rules": [
        {"name": "etsy leads", "when": {"source": "etsy"}, "team": "sales"},
        {"name": "the north", "when": {"custom_field": "region", "equals": "north"}, "owner": "lou"}]}))
    _ok(tenant.client.put("/v1/lead-settings/bant-rule", headers=tenant.headers,
                          json={"required": ["budget", "need"], "minimum": 3}))

    def lead(name, **fields):
        return _ok(tenant.post("/v1/customers", {"name": name, "lifecycle_stage": "lead", **fields}),
                   201)

    ann = lead("Ann", source="Etsy")
    ben = lead("Ben", source="etsy")
    cat = lead("Cat", custom_fields={"region": "north"})
    dan = lead("Dan", source="website")
    eve = tenant.register("Eve", None)  # a customer, not a lead
    token = eve["consistency_token"]
    queue = _ok(tenant.get("/v1/leads", token=token))["items"]
    assert [(row["name"], row["owner"]) for row in queue] == [
        ("Ann", "maya"), ("Ben", "tom"), ("Cat", "lou"), ("Dan", None)]
    assert [row["name"] for row in _ok(tenant.get("/v1/leads", params={"unassigned": True}))["items"]] \
        == ["Dan"]

    # BANT: budget and need are required and three must be met.
    bant = f"/v1/customers/{dan['id']}/bant"
    _ok(tenant.patch(bant, {"budget": {"met": True, "note": "£2k for the café"},
                            "need": {"met": True, "note": "new tableware"}}))
    _ok(tenant.patch(bant, {"timeline": {"met": None, "note": "maybe spring"}}))
    qualified = _ok(tenant.patch(bant, {"authority": {"met": True, "note": "owner"}}))
    _refused(tenant.patch(bant, {"budget": {"met": "yes"}}), "budget.met")
    _refused(tenant.patch(bant, {}), "body")

    # Assignment: by hand, round robin (the team's turn continues), by rule, or none matching.
    _ok(tenant.post(f"/v1/customers/{dan['id']}/assign", {"owner": "sam"}))
    assert _ok(tenant.post(f"/v1/customers/{eve['id']}/assign", {"team": "sales"}))["version"] == 2
    _refused(tenant.post(f"/v1/customers/{dan['id']}/assign", {"by_rule": True}), "by_rule")
    _refused(tenant.post(f"/v1/customers/{dan['id']}/assign", {"owner": "x", "team": "sales"}), "body")
    _refused(tenant.post(f"/v1/customers/{dan['id']}/assign", {"team": "ghosts"}), "team")

    # Lifecycle: an order converts a lead; moves are checked.
    _ok(tenant.post(f"/v1/customers/{dan['id']}/orders", {"order_id": "D1", "amount": "40.00",
                                                           "currency": "GBP", "item_count": 1}), 201)
    _ok(tenant.post(f"/v1/customers/{ann['id']}/lifecycle", {"stage": "qualified"}))
    _ok(tenant.post(f"/v1/customers/{ann['id']}/lifecycle", {"stage": "customer", "reason": "signed"}))
    _refused(tenant.post(f"/v1/customers/{ben['id']}/lifecycle", {"stage": "churned"}), None, 409)
    last = _ok(tenant.post(f"/v1/customers/{cat['id']}/lifecycle", {"stage": "qualified"}))

    view = _ok(tenant.get(f"/v1/customers/{dan['id']}", token=last["consistency_token"]))
    assert view["lead"]["stage"] == "customer" and view["lead"]["owner"] == "sam"
    assert view["lead"]["bant_qualified"] is True
    assert view["lead"]["bant"]["budget"] == {"met": True, "note": "£2k for the café"}
    assert view["lead"]["converted_at"] is not None
    timeline = _ok(tenant.get(f"/v1/customers/{dan['id']}/timeline", params={"kind": "lead"}))
    assert [e["summary"] for e in timeline["items"]] == [
        "Became customer (first order)", "Assigned to sam",
        "Became qualified (BANT criteria met)",
        "BANT: budget met, need met, timeline unknown, authority met; qualified",
        "BANT: budget met, need met, timeline unknown",
        "BANT: budget met, need met", "Became lead (registered as a lead)"]
    assert qualified["version"] == 6  # BantAssessed + LifecycleChanged in one command
    assert _ok(tenant.get(f"/v1/customers/{eve['id']}"))["lead"]["owner"] == "maya"

    [month] = _ok(tenant.get("/v1/leads/conversion", params={"period": "month"}))
    assert (month["leads"], month["qualified"], month["converted"], month["conversions_in_period"]) \
        == (4, 3, 2, 2)
    assert month["conversion_rate"] == 0.5
    assert [row["name"] for row in _ok(tenant.get("/v1/leads"))["items"]] == ["Ben", "Cat"]
    assert _ok(tenant.get("/v1/leads", params={"stage": "qualified"}))["items"][0]["name"] == "Cat"

    settings = _ok(tenant.get("/v1/lead-settings"))
    assert settings["bant_rule"] == {"required": ["budget", "need"], "minimum": 3}
    assert [rule["name"] for rule in settings["routing_rules"]] == ["etsy leads", "the north"]
    assert _ok(tenant.get("/v1/teams")) == [{"name": "sales", "members": ["maya", "tom"], "turns": 3}]

    # Other tenants see none of it.
    assert _ok(other_tenant.get("/v1/leads"))["items"] == []
    assert other_tenant.post(f"/v1/customers/{dan['id']}/assign", {"owner": "x"}).status_code == 404
    assert other_tenant.patch(bant, {"need": {"met": True}}).status_code == 404
    assert _ok(other_tenant.get("/v1/teams")) == []
