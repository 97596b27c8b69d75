"""Authentication, roles, and tenant isolation: nothing crosses tenants, another's id is a 404."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from commands.tenants import issue_key
from domain.base import Meta
from tests.conftest import Tenant
from tests.support import assert_problem, head


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture(scope="module")
def world(make_tenant):
    """Tenant A with a customer, a deal and two campaigns; tenant B with look-alike data."""
    a, b = make_tenant("Alpha Pottery"), make_tenant("Beta Candles")
    ada = a.register("Ada Potter", "ada@alpha.example")
    _ok(a.post(f"/v1/customers/{ada['id']}/orders", {"order_id": "A-1", "amount": "10.00",
                                                     "currency": "GBP", "item_count": 1}))
    deal = _ok(a.post("/v1/opportunities", {"customer_id": ada["id"], "title": "Alpha mugs",
                                            "value": "100", "currency": "GBP"}))
    draft = _ok(a.post("/v1/campaigns", {"name": "Alpha news", "channel": "sms", "body": "Hi"}))
    running = _ok(a.post("/v1/campaigns", {"name": "Alpha live", "channel": "sms", "body": "Hi"}))
    _ok(a.post(f"/v1/campaigns/{running['id']}/launch", {"customer_ids": [ada["id"]]}))
    ana = b.register("Ana Potter", "ana@beta.example")
    b_deal = _ok(b.post("/v1/opportunities", {"customer_id": ana["id"], "title": "Beta candles",
                                              "value": "7", "currency": "EUR"}))
    b_campaign = _ok(b.post("/v1/campaigns", {"name": "Beta news", "channel": "sms", "body": "Hi"}))
    token = b.post(f"/v1/customers/{ana['id']}/notes", {"text": "sync"}).json()["consistency_token"]
    return {"a": a, "b": b, "ada": ada["id"], "deal": deal["id"], "draft": draft["id"],
            "running": running["id"], "ana": ana["id"], "b_deal": b_deal["id"],
            "b_campaign": b_campaign["id"], "token": token}


def later() -> str:
    return (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()


def command_routes(w) -> list[tuple[str, str, dict]]:
    """Every command route on tenant A's aggregates, each with a body that would be accepted."""
    c, d = f"/v1/customers/{w['ada']}", f"/v1/opportunities/{w['deal']}"
    return [
        ("patch", c, {"name": "Hijacked"}),
        ("post", f"{c}/notes", {"text": "hijacked"}),
        ("post", f"{c}/communications", {"channel": "email", "direction": "inbound"}),
        ("post", f"{c}/orders", {"order_id": "X-1", "amount": "1.00", "currency": "GBP", "item_count": 1}),
        ("post", f"{c}/tags", {"add": ["hijacked"]}),
        ("post", f"{c}/archive", {}),
        ("post", f"{d}/value", {"value": "1"}),
        ("post", f"{d}/stage", {"stage": "proposal"}),
        ("post", f"{d}/win", {}),
        ("post", f"{d}/lose", {"reason": "hijacked"}),
        ("post", f"/v1/campaigns/{w['draft']}/schedule", {"scheduled_for": later()}),
        ("post", f"/v1/campaigns/{w['draft']}/launch", {"customer_ids": [w["ada"]]}),
        ("post", f"/v1/campaigns/{w['draft']}/cancel", {}),
        ("post", f"/v1/campaigns/{w['running']}/complete", {}),
    ]


def query_routes(w) -> list[str]:
    c = f"/v1/customers/{w['ada']}"
    return [c, f"{c}/timeline", f"{c}/history", f"{c}?as_of=1", f"{c}?as_of=2099-01-01T00:00:00Z"]


# -- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Bearer not-a-key", "Basic dXNlcjpwYXNz", "crm_no_scheme",
    "Bearer test-admin-token",                       # the operators' token is not a tenant key
])
def test_requests_without_a_valid_key_are_401(world, module_client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    before = head(module_client.app)
    for method, path, body in [("get", "/v1/customers", None), ("get", "/v1/opportunities", None),
                               ("get", query_routes(world)[0], None),
                               ("post", "/v1/customers", {"name": "Nope"}),
                               ("post", "/v1/campaigns", {"name": "N", "channel": "sms", "body": "b"})]:
        response = module_client.request(method, path, json=body, headers=headers)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    assert head(module_client.app) == before


def test_the_scheme_is_case_insensitive(world, module_client):
    key = world["a"].key
    assert module_client.get("/v1/customers", headers={"Authorization": f"bearer {key}"}).status_code == 200


def test_a_revoked_key_is_401(world, module_client):
    a = world["a"]
    member = _ok(a.post("/v1/api-keys", {"role": "member"}))
    headers = {"Authorization": f"Bearer {member['api_key']}"}
    assert module_client.get("/v1/customers", headers=headers).status_code == 200
    assert module_client.delete(f"/v1/api-keys/{member['id']}", headers=a.headers).status_code == 204
    assert_problem(module_client.get("/v1/customers", headers=headers), 401)
    assert_problem(module_client.post("/v1/customers", json={"name": "x"}, headers=headers), 401)


# -- roles ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def viewer(world, module_app, module_client) -> Tenant:
    a = world["a"]
    secret = issue_key(module_app.state.crm, Meta(a.id, "test"), "viewer", "dashboard")
    return Tenant(a.id, secret, module_client)


def test_a_viewer_key_cannot_run_any_command_and_nothing_is_stored(world, viewer):
    before = head(viewer.client.app)
    routes = command_routes(world) + [
        ("post", "/v1/customers", {"name": "New"}),
        ("post", "/v1/opportunities", {"customer_id": world["ada"], "title": "T", "value": "1",
                                       "currency": "GBP"}),
        ("post", "/v1/campaigns", {"name": "N", "channel": "sms", "body": "b"})]
    for method, path, body in routes:
        response = viewer.client.request(method, path, json=body, headers=viewer.headers)
        assert_problem(response, 403)
    assert head(viewer.client.app) == before


def test_a_viewer_key_reads_everything_of_its_tenant(world, viewer):
    token = world["token"]
    listed = viewer.get("/v1/customers", token=token).json()["items"]
    assert [c["name"] for c in listed] == ["Ada Potter"]
    for path in query_routes(world) + ["/v1/opportunities", "/v1/opportunities/by-stage"]:
        assert viewer.get(path, token=token).status_code == 200, path


def test_a_member_key_can_run_commands(world, module_app):
    a = world["a"]
    member = _ok(a.post("/v1/api-keys", {"role": "member"}))
    client = Tenant(a.id, member["api_key"], a.client)
    created = client.register("Made by a member", None)
    history = client.get(f"/v1/customers/{created['id']}/history").json()
    assert history[0]["actor"] == f"key {member['id'].replace('-', '')[:12]}"


# -- isolation -----------------------------------------------------------------------------------


def test_another_tenants_ids_answer_404_on_every_query_route(world):
    b = world["b"]
    for path in query_routes(world):
        body = assert_problem(b.get(path, token=world["token"]), 404)
        assert "Ada" not in str(body)
    # and the owner does see them
    for path in query_routes(world):
        assert world["a"].get(path).status_code == 200, path


def test_another_tenants_ids_answer_404_on_every_command_route_and_nothing_is_stored(world):
    b = world["b"]
    before = head(b.client.app)
    history_before = world["a"].get(f"/v1/customers/{world['ada']}/history").json()
    for method, path, body in command_routes(world):
        response = getattr(b, method)(path, body)
        assert_problem(response, 404)
    assert head(b.client.app) == before
    assert world["a"].get(f"/v1/customers/{world['ada']}/history").json() == history_before


def test_lists_never_show_another_tenants_rows(world):
    a, b, token = world["a"], world["b"], world["token"]
    assert [c["name"] for c in b.get("/v1/customers", token=token).json()["items"]] == ["Ana Potter"]
    assert b.get("/v1/customers", token=token, params={"q": "ada"}).json()["items"] == []
    assert b.get("/v1/customers", token=token, params={"q": "ada@alpha"}).json()["items"] == []
    assert [d["title"] for d in b.get("/v1/opportunities", token=token).json()["items"]] == ["Beta candles"]
    assert b.get("/v1/opportunities", token=token,
                 params={"customer_id": world["ada"]}).json()["items"] == []
    assert b.get("/v1/opportunities/by-stage", token=token).json() == [
        {"stage": "lead", "currency": "EUR", "count": 1, "total": "7.00"}]
    a_names = [c["name"] for c in a.get("/v1/customers", token=token).json()["items"]]
    assert "Ada Potter" in a_names and "Ana Potter" not in a_names
    assert a.get("/v1/opportunities/by-stage", token=token).json() == [
        {"stage": "lead", "currency": "GBP", "count": 1, "total": "100.00"}]


def test_a_deal_cannot_be_opened_for_another_tenants_customer(world):
    b = world["b"]
    before = head(b.client.app)
    assert_problem(b.post("/v1/opportunities", {"customer_id": world["ada"], "title": "Poached",
                                                "value": "1", "currency": "GBP"}), 404)
    assert head(b.client.app) == before


def test_a_campaign_cannot_reach_another_tenants_customer(world):
    b = world["b"]
    before = head(b.client.app)
    assert_problem(b.post(f"/v1/campaigns/{world['b_campaign']}/launch",
                          {"customer_ids": [world["ana"], world["ada"]]}), 422, "customer_ids[1]")
    assert head(b.client.app) == before
    view = world["a"].get(f"/v1/customers/{world['ada']}", token=world["token"]).json()
    assert view["campaigns_received"] == 1   # only tenant A's own campaign


def test_an_idempotency_key_answer_never_crosses_tenants(world):
    a, b = world["a"], world["b"]
    key = {"Idempotency-Key": "tenancy-key"}
    first = _ok(a.post(f"/v1/customers/{world['ada']}/notes", {"text": "same"}, headers=key))
    # the same key and body from tenant B on A's customer is still not found, not A's answer
    assert_problem(b.post(f"/v1/customers/{world['ada']}/notes", {"text": "same"}, headers=key), 404)
    assert _ok(a.post(f"/v1/customers/{world['ada']}/notes", {"text": "same"}, headers=key)) == first
