"""Lead scoring through HTTP: the tenant's rules over behaviour and attributes, silence, the
reasons and history behind a score, and everyone rescored when the rules change."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

RULES = [
    {"name": "email opened", "points": 10, "event": "engagement", "kind": "email_opened",
     "max_times": 3},
    {"name": "big order", "points": 25, "event": "order", "min_amount": "100"},
    {"name": "any order", "points": 5, "event": "order"},
    {"name": "from etsy", "points": 5, "attribute": "source", "equals": "etsy"},
    {"name": "has phone", "points": 5, "attribute": "has_phone"},
    {"name": "vip", "points": 15, "attribute": "tag", "equals": "vip"},
    {"name": "silence", "points": -5, "silence_days": 30},
]


def _ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def _put_rules(tenant, rules) -> dict:
    return _ok(tenant.client.put("/v1/lead-settings/scoring-rules", headers=tenant.headers,
                                 json={"rules": rules}))


def test_scores_follow_the_rules(tenant, other_tenant):
    _put_rules(tenant, RULES)
    ann = tenant.register("Ann", "ann@example.com", source="Etsy", phone="+44 7911 123456")
    bea = tenant.register("Bea", "bea@example.com")
    for day in range(1, 5):
        _ok(tenant.post(f"/v1/customers/{ann['id']}/engagements",
                        {"kind": "email_opened", "detail": f"newsletter {day}",
                         "occurred_at": f"2026-01-0{day}T09:00:00Z"}), 201)
    _ok(tenant.post(f"/v1/customers/{ann['id']}/orders", {
        "order_id": "A1", "amount": "150.00", "currency": "GBP", "item_count": 2,
        "occurred_at": "2026-01-10T09:00:00Z"}), 201)
    _ok(tenant.post(f"/v1/customers/{ann['id']}/tags", {"add": ["VIP"]}))
    last = _ok(tenant.post(f"/v1/customers/{bea['id']}/orders", {
        "order_id": "B1", "amount": "40.00", "currency": "GBP", "item_count": 1}), 201)

    score = _ok(tenant.get(f"/v1/customers/{ann['id']}/lead-score", token=last["consistency_token"]))
    assert score["score"] == 85 and score["silence_points"] == 0
    assert {r["rule"]: (r["points"], r["times"]) for r in score["reasons"]} == {
        "email opened": (30, 3), "big order": (25, 1), "vip": (15, 1), "any order": (5, 1),
        "from etsy": (5, 1), "has phone": (5, 1)}
    assert [(h["rule"], h["score"]) for h in score["history"]] == [
        ("email opened", 35), ("email opened", 45), ("email opened", 55),
        ("any order", 60), ("big order", 85)]
    # The 360 view reads the score in the statement of its lists: the same score and reasons.
    in_view = _ok(tenant.get(f"/v1/customers/{ann['id']}"))["lead_score"]
    assert {**in_view, "history": None} == {**score, "history": None}

    # Silence: 65 days after the last activity (here, registering) costs 2 x 5 points.
    later = (datetime.now(timezone.utc) + timedelta(days=65)).isoformat()
    assert _ok(tenant.get(f"/v1/customers/{ann['id']}/lead-score",
                          params={"now": later}))["score"] == 75
    top = _ok(tenant.get("/v1/leads/scores", params={"now": later}))["items"]
    assert [(row["name"], row["score"]) for row in top] == [("Ann", 75), ("Bea", 0)]
    assert [row["name"] for row in _ok(tenant.get("/v1/leads/scores",
                                                  params={"min_score": 50}))["items"]] == ["Ann"]
    first = _ok(tenant.get("/v1/leads/scores", params={"limit": 1}))
    rest = _ok(tenant.get("/v1/leads/scores", params={"limit": 1, "cursor": first["next_cursor"]}))
    assert [r["name"] for r in first["items"] + rest["items"]] == ["Ann", "Bea"]

    # New rules rescore everyone at once.
    changed = _put_rules(tenant, [dict(rule, points=60) if rule["name"] == "big order" else rule
                                  for rule in RULES if rule["name"] != "any order"])
    rescored = _ok(tenant.get("/v1/leads/scores", token=changed["consistency_token"]))["items"]
    assert [(row["name"], row["score"]) for row in rescored] == [("Ann", 100), ("Bea", 0)]
    assert _ok(tenant.get("/v1/lead-settings"))["scoring_rules"][1] == {
        "name": "big order", "points": 60, "event": "order", "min_amount": "100"}

    # Bad rules are refused naming the rule; another tenant's customer is not found.
    for rules, field in (([{"name": "x", "points": 500, "event": "order"}], "rules[0].points"),
                         ([{"name": "x", "points": 5}], "rules[0]"),
                         ([{"name": "x", "points": 5, "silence_days": 30}], "rules[0].points"),
                         ([{"name": "x", "points": 5, "event": "dance"}], "rules[0].event"),
                         ([{"name": "x", "points": 5, "attribute": "tag"}], "rules[0].equals"),
                         ([{"name": "x", "points": 1, "event": "note"}] * 2, "rules[1].name")):
        response = tenant.client.put("/v1/lead-settings/scoring-rules", headers=tenant.headers,
                                     json={"rules": rules})
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]], response.text
    bad = tenant.post(f"/v1/customers/{ann['id']}/engagements", {"kind": "liked"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "kind"
    assert other_tenant.get(f"/v1/customers/{ann['id']}/lead-score").status_code == 404
