"""Preferences and consent through HTTP: recorded with source and time, shown in the 360
view and the timeline, and the lookup that campaigns use."""

from __future__ import annotations

PROBLEM = "application/problem+json"


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def test_consent_and_preferences(tenant, other_tenant, app):
    ada, bea = tenant.register("Ada", "ada@example.com"), tenant.register("Bea", "bea@example.com")
    cal = tenant.register("Cal", "cal@example.com")
    consent = f"/v1/customers/{ada['id']}/consent"
    _ok(tenant.post(consent, {"channel": "email", "status": "opted_in", "source": "checkout form",
                              "occurred_at": "2026-01-05T10:00:00Z"}), 201)
    _ok(tenant.post(consent, {"channel": "sms", "status": "opted_in", "source": "shop counter"}), 201)
    _ok(tenant.post(consent, {"channel": "sms", "status": "opted_out", "source": "STOP reply"}), 201)
    # An older statement recorded late is kept in the history but does not override a newer one.
    _ok(tenant.post(consent, {"channel": "email", "status": "opted_out", "source": "paper form",
                              "occurred_at": "2025-06-01T10:00:00Z"}), 201)
    _ok(tenant.post(f"/v1/customers/{bea['id']}/consent",
                    {"channel": "email", "status": "opted_in", "source": "import"}), 201)
    archived = _ok(tenant.post(f"/v1/customers/{bea['id']}/archive", {}))
    _ok(tenant.patch(f"/v1/customers/{ada['id']}/preferences",
                     {"preferred_channel": "email", "frequency": "monthly",
                      "topics": ["Glazes", "workshops", "glazes"]}))
    prefs = _ok(tenant.patch(f"/v1/customers/{ada['id']}/preferences", {"frequency": "weekly"}))

    view = _ok(tenant.get(f"/v1/customers/{ada['id']}", token=prefs["consistency_token"]))
    assert view["preferences"] == {"preferred_channel": "email", "frequency": "weekly",
                                   "topics": ["glazes", "workshops"]}
    assert [(c["channel"], c["status"], c["source"]) for c in view["consent"]] == [
        ("email", "opted_in", "checkout form"), ("sms", "opted_out", "STOP reply")]
    assert view["consent"][0]["occurred_at"].startswith("2026-01-05T10:00:00")
    timeline = _ok(tenant.get(f"/v1/customers/{ada['id']}/timeline", params={"kind": "consent"}))
    assert [e["summary"] for e in timeline["items"]] == [
        "Opted out of sms (STOP reply)", "Opted in to sms (shop counter)",
        "Opted in to email (checkout form)", "Opted out of email (paper form)"]

    # The lookup: only an opt-in allows contact; archived customers and strangers are not reached.
    stranger = other_tenant.register("Zed", "zed@example.com")
    lookup = _ok(tenant.post("/v1/consent/lookup", headers={
        "X-Consistency-Token": archived["consistency_token"]}, json={
        "channel": "email", "customer_ids": [ada["id"], bea["id"], cal["id"], stranger["id"]]}))
    assert [(row["customer_id"], row["status"], row["allowed"]) for row in lookup] == [
        (ada["id"], "opted_in", True), (bea["id"], "opted_in", False), (cal["id"], "unknown", False)]
    sms = _ok(tenant.post("/v1/consent/lookup", json={"channel": "sms", "customer_ids": [ada["id"]]}))
    assert sms[0]["allowed"] is False and sms[0]["source"] == "STOP reply"

    # An archived customer can still opt out (never in), and bad input stores nothing.
    _ok(tenant.post(f"/v1/customers/{bea['id']}/consent",
                    {"channel": "email", "status": "opted_out", "source": "email to shop"}), 201)
    assert tenant.post(f"/v1/customers/{bea['id']}/consent", {
        "channel": "email", "status": "opted_in", "source": "x"}).status_code == 409
    head = app.state.crm.recorder.max_notification_id()
    for body, field in (({"channel": "pigeon", "status": "opted_in", "source": "x"}, "channel"),
                        ({"channel": "email", "status": "maybe", "source": "x"}, "status"),
                        ({"channel": "email", "status": "opted_in", "source": ""}, "source"),
                        ({"channel": "email", "status": "opted_in", "source": "x",
                          "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at")):
        response = tenant.post(consent, body)
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
        assert field in [e["field"] for e in response.json()["errors"]], response.text
    response = tenant.patch(f"/v1/customers/{ada['id']}/preferences", {"frequency": "hourly"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "frequency"
    assert app.state.crm.recorder.max_notification_id() == head
    assert other_tenant.post(consent, {"channel": "email", "status": "opted_out",
                                       "source": "x"}).status_code == 404
