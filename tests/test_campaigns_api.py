"""Campaign routes through HTTP: the state machine, and a launch reaching every audience member."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from tests.support import assert_problem, head


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture
def shop(make_tenant):
    return make_tenant("Campaign shop")


def draft(shop, channel="email", **extra) -> dict:
    body = {"name": "Winter preview", "channel": channel, "subject": "New range", "body": "Hello!",
            **extra}
    response = shop.post("/v1/campaigns", body)
    assert response.status_code == 201, response.text
    return response.json()


def later(days: int = 1) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


def test_a_launch_puts_a_campaign_entry_on_each_audience_members_timeline(shop):
    audience = [shop.register(f"Member {n}", None)["id"] for n in range(3)]
    outsider = shop.register("Outsider", None)["id"]
    campaign = draft(shop)
    launched = _ok(shop.post(f"/v1/campaigns/{campaign['id']}/launch",
                             {"customer_ids": audience + [audience[0]]}))  # a duplicate counts once
    assert launched["version"] > campaign["version"]
    token = launched["consistency_token"]

    for customer in audience:
        items = shop.get(f"/v1/customers/{customer}/timeline", token=token,
                         params={"kind": "campaign"}).json()["items"]
        assert [(i["kind"], i["event_type"], i["aggregate_id"], i["summary"]) for i in items] == [
            ("campaign", "Campaign.Launched", campaign["id"], "Received a campaign")]
        assert "customer_ids" not in items[0]["data"]
        view = shop.get(f"/v1/customers/{customer}", token=token).json()
        assert view["campaigns_received"] == 1
        assert view["last_interactions"][0]["kind"] == "campaign"
    outside = shop.get(f"/v1/customers/{outsider}/timeline", token=token, params={"kind": "campaign"})
    assert outside.json()["items"] == []
    assert shop.get(f"/v1/customers/{outsider}", token=token).json()["campaigns_received"] == 0


def test_a_second_campaign_adds_a_second_entry(shop):
    ada = shop.register("Ada", None)["id"]
    token = None
    for _ in range(2):
        token = _ok(shop.post(f"/v1/campaigns/{draft(shop, 'sms')['id']}/launch",
                              {"customer_ids": [ada]}))["consistency_token"]
    assert shop.get(f"/v1/customers/{ada}", token=token).json()["campaigns_received"] == 2
    assert len(shop.get(f"/v1/customers/{ada}/timeline", token=token,
                        params={"kind": "campaign"}).json()["items"]) == 2


def test_the_whole_life_of_a_campaign(shop):
    ada = shop.register("Ada", None)["id"]
    campaign = draft(shop)
    path = f"/v1/campaigns/{campaign['id']}"
    versions = [campaign["version"]]
    for action, body in (("schedule", {"scheduled_for": later(2)}),
                         ("schedule", {"scheduled_for": later(3)}),       # moved
                         ("launch", {"customer_ids": [ada]}), ("complete", {})):
        versions.append(_ok(shop.post(f"{path}/{action}", body))["version"])
    assert versions == sorted(set(versions))       # each step stored something new


@pytest.mark.parametrize("steps, refused", [
    (["cancel"], "launch"),                  # no launching a cancelled campaign
    (["launch", "complete"], "launch"),      # nor a completed one
    (["launch", "complete"], "cancel"),
    ([], "complete"),                        # nothing to complete before a launch
    (["schedule"], "complete"),
    (["launch"], "schedule"),
    (["launch"], "launch"),
    (["cancel"], "cancel"),
    (["cancel"], "schedule"),
])
def test_the_state_machine_refuses_with_409_and_stores_nothing(shop, steps, refused):
    ada = shop.register("Ada", None)["id"]
    path = f"/v1/campaigns/{draft(shop)['id']}"
    bodies = {"launch": {"customer_ids": [ada]}, "schedule": {"scheduled_for": later()},
              "cancel": {"reason": "changed our mind"}}
    for action in steps:
        _ok(shop.post(f"{path}/{action}", bodies.get(action, {})))
    before = head(shop.client.app)
    problem = assert_problem(shop.post(f"{path}/{refused}", bodies.get(refused, {})), 409)
    assert problem["type"].endswith("invalid-transition")
    assert head(shop.client.app) == before


@pytest.mark.parametrize("body, field", [
    ({"scheduled_for": "2020-01-01T00:00:00Z"}, "scheduled_for"),
    ({"scheduled_for": "2999-01-01T00:00:00"}, "scheduled_for"),      # naive: refused, not guessed
    ({"scheduled_for": "next tuesday"}, "scheduled_for"),
    ({}, "scheduled_for"),
])
def test_a_schedule_must_be_a_future_aware_time(shop, body, field):
    campaign = draft(shop)
    before = head(shop.client.app)
    assert_problem(shop.post(f"/v1/campaigns/{campaign['id']}/schedule", body), 422, field)
    assert head(shop.client.app) == before


@pytest.mark.parametrize("body, field", [
    ({"name": "X", "channel": "email", "body": "b"}, "subject"),        # an email needs a subject
    ({"name": "X", "channel": "pigeon", "subject": "s", "body": "b"}, "channel"),
    ({"name": " ", "channel": "sms", "body": "b"}, "name"),
    ({"name": "X", "channel": "sms"}, "body"),
    # Misspelt variables are refused when drafting, not at the sender for every message.
    ({"name": "X", "channel": "email", "subject": "s", "body": "Hi\n{{ customer.fist_name }}"}, "body"),
    ({"name": "X", "channel": "email", "subject": "Hi {{ name }}", "body": "b"}, "subject"),
    ({"name": "X", "channel": "sms", "body": "{{ customer.custom.glaze }}"}, "body"),
    ({"name": "X", "channel": "sms", "body": "{% if %}"}, "body"),
    # The other checks of a template's parts hold for a campaign's own content too.
    ({"name": "X", "channel": "sms", "body": "Glaze sale! " * 150}, "body"),      # 12 segments
    ({"name": "X", "channel": "whatsapp", "body": "x" * 4097}, "body"),
    ({"name": "X", "channel": "email", "subject": "{{ '\\n' }}a\nb", "body": "b"}, "subject"),
])
def test_a_bad_draft_is_refused(shop, body, field):
    before = head(shop.client.app)
    assert_problem(shop.post("/v1/campaigns", body), 422, field)
    assert head(shop.client.app) == before


def test_a_drafts_variables_are_checked_against_what_a_message_can_use(shop):
    """The error says which variable, on which line, and what exists; the tenant's own
    custom fields are variables too."""
    problem = assert_problem(shop.post("/v1/campaigns", {
        "name": "X", "channel": "email", "subject": "s",
        "body": "Hello,\n{{ customer.fist_name }}"}), 422, "body")
    reason = next(e["reason"] for e in problem["errors"] if e["field"] == "body")
    assert "line 2" in reason and "customer.fist_name is not defined" in reason
    assert "first_name" in reason  # among the names that exist
    shop.post("/v1/custom-fields", {"key": "glaze", "label": "Glaze", "type": "text"})
    drafted = shop.post("/v1/campaigns", {"name": "Glazes", "channel": "sms",
                                          "body": "Your {{ customer.custom.glaze }} glaze is back"})
    assert drafted.status_code == 201, drafted.text


def test_a_launch_with_an_unknown_or_no_customer_stores_nothing(shop):
    ada = shop.register("Ada", None)["id"]
    campaign = draft(shop)
    before = head(shop.client.app)
    assert_problem(shop.post(f"/v1/campaigns/{campaign['id']}/launch",
                             {"customer_ids": [ada, str(uuid4())]}), 422, "customer_ids[1]")
    assert_problem(shop.post(f"/v1/campaigns/{campaign['id']}/launch", {"customer_ids": []}), 422,
                   "customer_ids")
    assert head(shop.client.app) == before


def test_another_tenants_customer_is_unknown_to_a_launch(shop, make_tenant):
    """The recipients are read many at a time; each must still be this tenant's customer."""
    other = make_tenant("Other shop").register("Bea", None)["id"]
    ada = shop.register("Ada", None)["id"]
    campaign = draft(shop)
    before = head(shop.client.app)
    assert_problem(shop.post(f"/v1/campaigns/{campaign['id']}/launch",
                             {"customer_ids": [ada, ada, other]}), 422, "customer_ids[2]")
    assert head(shop.client.app) == before


def test_commands_on_an_unknown_campaign_answer_404(shop):
    missing = uuid4()
    for action, body in (("schedule", {"scheduled_for": later()}), ("launch", {"customer_ids": [str(uuid4())]}),
                         ("complete", {}), ("cancel", {})):
        assert_problem(shop.post(f"/v1/campaigns/{missing}/{action}", body), 404)


def test_complete_and_cancel_need_no_body(shop):
    ada = shop.register("Ada", None)["id"]
    running = draft(shop)
    _ok(shop.post(f"/v1/campaigns/{running['id']}/launch", {"customer_ids": [ada]}))
    assert shop.client.post(f"/v1/campaigns/{running['id']}/complete", headers=shop.headers).status_code == 200
    response = shop.client.post(f"/v1/campaigns/{draft(shop)['id']}/cancel", headers=shop.headers)
    assert response.status_code == 200, response.text
