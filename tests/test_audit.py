"""The audit trail: every stored event of a customer, and its state as of a version or a moment."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.support import assert_problem


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def story(make_tenant):
    """Ada: registered (v1), renamed (v2), an order (v3), a note (v4), tagged (v5), archived (v6)."""
    shop = make_tenant("Audit shop")
    ada = shop.register("Ada Potter", "ada@example.com", phone="07911 123456", source="etsy")
    path = f"/v1/customers/{ada['id']}"
    _ok(shop.patch(path, {"name": "Ada Baker"}, headers={"X-Actor": "maya", "X-Correlation-Id": "req-42"}))
    order = {"order_id": "A-1", "amount": "24.5", "currency": "gbp", "item_count": 2,
             "occurred_at": "2025-12-01T09:00:00+01:00"}
    _ok(shop.post(f"{path}/orders", order))
    _ok(shop.post(f"{path}/orders", order))        # the same order again: nothing stored
    _ok(shop.post(f"{path}/notes", {"text": "Prefers unglazed"}))
    _ok(shop.post(f"{path}/tags", {"add": ["vip"]}))
    _ok(shop.post(f"{path}/archive", {"reason": "moved away"}))
    events = _ok(shop.get(f"{path}/history"))
    return shop, path, events


def state(shop, path, as_of):
    return shop.get(path, params={"as_of": as_of})


def test_history_lists_every_stored_event_in_order(story):
    shop, path, events = story
    assert [(e["type"], e["version"]) for e in events] == [
        ("Customer.Registered", 1), ("Customer.ProfileUpdated", 2), ("Customer.OrderRecorded", 3),
        ("Customer.NoteAdded", 4), ("Customer.TagsChanged", 5), ("Customer.Archived", 6)]
    times = [_time(e["occurred_at"]) for e in events]
    assert times == sorted(times) and all(t.utcoffset() == timedelta(0) for t in times)
    assert {e["tenant_id"] for e in events} == {shop.id}


def test_history_says_who_and_as_part_of_what(story):
    shop, _, events = story
    key = events[0]["actor"]
    assert key.startswith("key ") and len(key) == len("key ") + 12
    assert events[1]["actor"] == f"maya ({key})"
    assert events[1]["correlation_id"] == "req-42"
    assert all(e["correlation_id"] for e in events)
    assert len({e["correlation_id"] for e in events}) == len(events)   # one request each


def test_history_data_is_the_events_own_data(story):
    _, _, events = story
    data = [e["data"] for e in events]
    assert data[0] == {"name": "Ada Potter", "email": "ada@example.com", "phone": "+447911123456",
                       "source": "etsy"}
    assert data[1] == {"changes": {"name": "Ada Baker"}}
    assert data[2] == {"order_id": "A-1", "amount": "24.50", "currency": "GBP", "item_count": 2,
                       "occurred_at": data[2]["occurred_at"]}
    assert _time(data[2]["occurred_at"]) == datetime(2025, 12, 1, 8, 0, tzinfo=timezone.utc)
    assert data[3:] == [{"text": "Prefers unglazed"}, {"tags": ["vip"]}, {"reason": "moved away"}]


def test_history_is_read_from_the_event_store_not_a_read_model(module_app, make_tenant):
    shop = make_tenant("Audit shop 2")
    bea = shop.register("Bea", None)
    path = f"/v1/customers/{bea['id']}"
    assert shop.get(path, token=bea["consistency_token"]).status_code == 200
    store = module_app.state.store
    with store.transaction() as cursor:   # the read model loses the customer...
        cursor.execute(f"DELETE FROM {store.live_schema('customer_directory')}.customers WHERE id = ?",
                       [bea["id"]])
    assert shop.get(path).status_code == 404
    history = shop.get(f"{path}/history")        # ...the audit trail does not
    assert history.status_code == 200 and [e["type"] for e in history.json()] == ["Customer.Registered"]
    assert state(shop, path, "1").json()["name"] == "Bea"


@pytest.mark.parametrize("version, expected", [
    ("1", {"name": "Ada Potter", "order_count": 0, "note_count": 0, "tags": [], "archived": False}),
    ("2", {"name": "Ada Baker", "order_count": 0, "note_count": 0, "tags": [], "archived": False}),
    ("3", {"name": "Ada Baker", "order_count": 1, "note_count": 0, "tags": [], "archived": False}),
    ("4", {"name": "Ada Baker", "order_count": 1, "note_count": 1, "tags": [], "archived": False}),
    ("5", {"name": "Ada Baker", "order_count": 1, "note_count": 1, "tags": ["vip"], "archived": False}),
    ("6", {"name": "Ada Baker", "order_count": 1, "note_count": 1, "tags": ["vip"], "archived": True}),
])
def test_as_of_a_version_reconstructs_that_version(story, version, expected):
    shop, path, events = story
    response = state(shop, path, version)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in expected} == expected
    assert body["version"] == int(version)
    assert (body["email"], body["phone"], body["source"]) == ("ada@example.com", "+447911123456", "etsy")
    assert _time(body["as_of"]) == _time(events[int(version) - 1]["occurred_at"])


def test_as_of_a_moment_reconstructs_the_state_then(story):
    shop, path, events = story
    at = [_time(e["occurred_at"]) for e in events]

    def version_at(moment: datetime, render=lambda m: m.isoformat()) -> int:
        response = state(shop, path, render(moment))
        assert response.status_code == 200, response.text
        return response.json()["version"]

    assert version_at(at[1]) == 2                                  # the event's own time includes it
    assert version_at(at[2] - timedelta(microseconds=1)) == 2      # just before the order
    body = state(shop, path, (at[2] - timedelta(microseconds=1)).isoformat()).json()
    assert (body["name"], body["order_count"]) == ("Ada Baker", 0)
    assert version_at(at[0]) == 1
    body = state(shop, path, at[0].isoformat()).json()
    assert body["name"] == "Ada Potter"
    assert version_at(at[5] + timedelta(days=365)) == 6
    # the same instant, written with Z or with another offset
    assert version_at(at[2], lambda m: m.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")) == 3
    assert version_at(at[2], lambda m: m.astimezone(timezone(timedelta(hours=-5))).isoformat()) == 3


def test_as_of_before_the_customer_existed_is_404(story):
    shop, path, events = story
    first = _time(events[0]["occurred_at"])
    assert_problem(state(shop, path, (first - timedelta(microseconds=1)).isoformat()), 404)
    assert_problem(state(shop, path, "2000-01-01T00:00:00Z"), 404)
    assert_problem(state(shop, path, "0"), 404)


@pytest.mark.parametrize("as_of", ["2026-01-01T12:00:00", "2026-01-01", "yesterday", "v3", "-1", "1.5",
                                   "9" * 65])
def test_as_of_must_be_a_version_or_an_aware_time(story, as_of):
    shop, path, _ = story
    assert_problem(state(shop, path, as_of), 422, "as_of")


def test_as_of_a_version_not_reached_yet_is_the_latest_state_like_a_future_time(story):
    shop, path, _ = story
    body = state(shop, path, "7").json()
    assert (body["version"], body["archived"]) == (6, True)   # it says which version it is
