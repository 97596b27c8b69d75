"""Customer routes through HTTP, and what they do to the directory, the 360 view and the timeline."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readmodels.customers import directory_filters
from tests.support import assert_problem, walk

# (name, email, tags, archived)
PEOPLE = [
    ("Ada Potter", "Ada.Potter@Example.com", ["vip"], False),
    ("Adam Baker", "adam@bakery.example", [], False),
    ("ADAline Carver", None, ["VIP", "local"], False),
    ("Bea Weaver", "Clay.Orders@Example.com", [], False),
    ("Cai Dyer", "clay.studio@example.org", ["local"], True),
    ("Madam Glover", "m.glover@example.com", [], True),
] + [(f"Filler {n:02d}", f"filler{n:02d}@example.com", ["filler"] if n % 3 == 0 else [], False)
     for n in range(14)]


@pytest.fixture(scope="module")
def directory(make_tenant):
    """A tenant with 20 customers of varied names, emails, tags and status."""
    shop = make_tenant("Directory Shop")
    make_tenant("Neighbour").register("Ada Neighbour", "ada@neighbour.example")  # never listed
    ids, token = {}, None
    for name, email, tags, archived in PEOPLE:
        created = shop.register(name, email)
        ids[name], token = created["id"], created["consistency_token"]
        if tags:
            token = _ok(shop.post(f"/v1/customers/{ids[name]}/tags", {"add": tags}))["consistency_token"]
        if archived:
            token = _ok(shop.post(f"/v1/customers/{ids[name]}/archive", {"reason": "moved away"}))[
                "consistency_token"]
    # the projector applies the log in order: the last command's token covers all before it
    return shop, ids, token


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


def names(shop, token, **params) -> list[str]:
    return [row["name"] for page in walk(shop, "/v1/customers", token, **params) for row in page]


# -- the directory -------------------------------------------------------------------------------


def test_the_directory_lists_every_customer_of_the_tenant_newest_first(directory):
    shop, ids, token = directory
    response = shop.get("/v1/customers", token=token, params={"limit": 200})
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    assert [row["name"] for row in body["items"]] == [p[0] for p in reversed(PEOPLE)]
    created = [row["created_at"] for row in body["items"]]
    assert created == sorted(created, reverse=True)
    ada = next(row for row in body["items"] if row["name"] == "Ada Potter")
    assert ada == {"id": ids["Ada Potter"], "name": "Ada Potter", "email": "Ada.Potter@example.com",
                   "phone": None, "source": None, "tags": ["vip"], "status": "active",
                   "created_at": ada["created_at"], "updated_at": ada["updated_at"]}
    assert ada["updated_at"] > ada["created_at"]  # the tags came later


@pytest.mark.parametrize("q, expected", [
    ("ada", {"Ada Potter", "Adam Baker", "ADAline Carver"}),
    ("ADAM", {"Adam Baker"}),
    ("Ada P", {"Ada Potter"}),
    ("dam", set()),                      # a prefix, not a substring
    ("filler 1", {f"Filler {n}" for n in range(10, 14)}),
])
def test_search_by_name_prefix_ignores_case(directory, q, expected):
    shop, _, token = directory
    assert set(names(shop, token, q=q)) == expected


@pytest.mark.parametrize("q, expected", [
    ("clay", {"Bea Weaver", "Cai Dyer"}),
    ("CLAY.O", {"Bea Weaver"}),          # the stored address keeps its capitals: Clay.Orders@
    ("clay.orders@example.com", {"Bea Weaver"}),
    ("ada.potter@", {"Ada Potter"}),
    ("adam@", {"Adam Baker"}),
    ("m.glo", {"Madam Glover"}),
    ("bakery", set()),
])
def test_search_by_email_prefix_ignores_case(directory, q, expected):
    shop, _, token = directory
    assert set(names(shop, token, q=q)) == expected


@pytest.mark.parametrize("params, expected", [
    ({"tag": "vip"}, {"Ada Potter", "ADAline Carver"}),
    ({"tag": "VIP"}, {"Ada Potter", "ADAline Carver"}),
    ({"tag": "local"}, {"ADAline Carver", "Cai Dyer"}),
    ({"tag": "local", "q": "cai"}, {"Cai Dyer"}),
    ({"tag": "nobody-has-it"}, set()),
    ({"status": "archived"}, {"Cai Dyer", "Madam Glover"}),
    ({"status": "archived", "q": "ma"}, {"Madam Glover"}),
    ({"status": "active", "tag": "local"}, {"ADAline Carver"}),
])
def test_filter_by_tag_and_status(directory, params, expected):
    shop, _, token = directory
    assert set(names(shop, token, **params)) == expected


def test_filter_by_created_range(directory):
    shop, _, token = directory
    rows = shop.get("/v1/customers", token=token, params={"limit": 200}).json()["items"]
    oldest_first = list(reversed(rows))
    start, end = oldest_first[3]["created_at"], oldest_first[9]["created_at"]

    inside = names(shop, token, created_from=start, created_to=end)
    after = names(shop, token, created_from=end)
    before = names(shop, token, created_to=start)

    assert inside == [row["name"] for row in reversed(oldest_first[3:9])]  # from inclusive, to exclusive
    assert len(after) == len(rows) - 9 and len(before) == 3
    assert set(inside) | set(after) | set(before) == {p[0] for p in PEOPLE}


@pytest.mark.parametrize("limit", [3, 7, 19, 20])
def test_cursor_pages_walk_every_row_once_in_order(directory, limit):
    shop, _, token = directory
    everything = shop.get("/v1/customers", token=token, params={"limit": 200}).json()["items"]
    pages = walk(shop, "/v1/customers", token, limit=limit)
    ids = [row["id"] for page in pages for row in page]
    assert ids == [row["id"] for row in everything]          # no gaps, no duplicates, same order
    assert all(len(page) == limit for page in pages[:-1]) and 0 < len(pages[-1]) <= limit
    assert len(pages) == -(-len(everything) // limit)


def test_cursor_pages_keep_the_filter(directory):
    shop, _, token = directory
    pages = walk(shop, "/v1/customers", token, q="filler", limit=4)
    assert [len(page) for page in pages] == [4, 4, 4, 2]
    assert {row["name"] for page in pages for row in page} == {f"Filler {n:02d}" for n in range(14)}


def test_a_new_customer_during_a_walk_does_not_disturb_it(directory, make_tenant):
    shop = make_tenant("Busy shop")
    token = None
    for n in range(6):
        token = shop.register(f"Early {n}", None)["consistency_token"]
    first = shop.get("/v1/customers", token=token, params={"limit": 3}).json()
    newcomer = shop.register("Newcomer", None)["consistency_token"]
    second = shop.get("/v1/customers", token=newcomer,
                      params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [r["name"] for r in first["items"] + second["items"]] == [f"Early {n}" for n in range(5, -1, -1)]


# -- commands and the 360 view ---------------------------------------------------------------------


@pytest.fixture
def shop(make_tenant):
    return make_tenant("Potter's Wheel")


def test_registration_answers_id_version_and_token(shop):
    response = shop.post("/v1/customers", {"name": "Ada", "email": "ada@example.com",
                                           "phone": "07911 123456", "source": "etsy"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "version", "consistency_token"}
    assert body["version"] == 1
    assert body["consistency_token"] == body["id"].replace("-", "") + ".1"
    view = shop.get(f"/v1/customers/{body['id']}", token=body["consistency_token"]).json()
    assert (view["name"], view["email"], view["phone"], view["source"], view["status"]) == \
        ("Ada", "ada@example.com", "+447911123456", "etsy", "active")


def test_the_360_summary_adds_up_everything_about_the_customer(shop):
    ada = shop.register("Ada Potter", "ada@example.com")
    path = f"/v1/customers/{ada['id']}"
    for order_id, amount, currency, at in (("A-1", "20.00", "GBP", "2025-11-20T10:00:00Z"),
                                           ("A-2", "12.50", "GBP", "2025-12-18T10:00:00Z"),
                                           ("A-3", "40.00", "EUR", "2025-10-01T10:00:00Z"),
                                           ("A-1", "20.00", "GBP", "2025-11-20T10:00:00Z")):  # again
        _ok(shop.post(f"{path}/orders", {"order_id": order_id, "amount": amount, "currency": currency,
                                         "item_count": 1, "occurred_at": at}))
    _ok(shop.post(f"{path}/notes", {"text": "Prefers unglazed finishes."}))
    _ok(shop.post(f"{path}/notes", {"text": "Runs a café."}))
    _ok(shop.post(f"{path}/communications", {"channel": "phone", "direction": "inbound",
                                             "subject": "Wholesale", "occurred_at": "2025-09-01T08:00:00Z"}))
    open_deal = _ok(shop.post("/v1/opportunities", {"customer_id": ada["id"], "title": "Café mugs",
                                                    "value": "600", "currency": "GBP",
                                                    "expected_close": "2026-12-01"}))
    won = _ok(shop.post("/v1/opportunities", {"customer_id": ada["id"], "title": "Plates",
                                              "value": "90.00", "currency": "GBP"}))
    _ok(shop.post(f"/v1/opportunities/{won['id']}/win", {}))
    campaign = _ok(shop.post("/v1/campaigns", {"name": "Winter", "channel": "sms", "body": "Hi"}))
    last = _ok(shop.post(f"/v1/campaigns/{campaign['id']}/launch", {"customer_ids": [ada["id"]]}))

    response = shop.get(path, token=last["consistency_token"])

    assert response.status_code == 200
    view = response.json()
    # registered, three orders (the repeated one stores nothing), two notes, one call
    assert response.headers["etag"] == '"7"'
    assert (view["id"], view["name"], view["email"], view["version"]) == \
        (ada["id"], "Ada Potter", "ada@example.com", 7)
    assert (view["order_count"], view["note_count"], view["communication_count"]) == (3, 2, 1)
    assert (view["open_opportunities"], view["won_opportunities"], view["campaigns_received"]) == (1, 1, 1)
    assert (view["lifetime_spend"], view["currency"], view["average_order_value"]) == ("32.50", "GBP", "16.25")
    assert view["spend_by_currency"] == [{"currency": "GBP", "amount": "32.50", "orders": 2},
                                         {"currency": "EUR", "amount": "40.00", "orders": 1}]
    assert view["first_order_at"].startswith("2025-10-01T10:00:00")
    assert view["last_order_at"].startswith("2025-12-18T10:00:00")
    assert view["last_interaction_at"] == view["last_interactions"][0]["occurred_at"]  # the launch
    assert [(d["id"], d["title"], d["value"], d["currency"], d["stage"], d["expected_close"])
            for d in view["open_opportunities_list"]] == [
        (open_deal["id"], "Café mugs", "600.00", "GBP", "lead", "2026-12-01")]
    assert [i["kind"] for i in view["last_interactions"]][:2] == ["campaign", "opportunity"]
    assert len(view["last_interactions"]) == 5


def test_the_360_of_a_customer_with_nothing_yet(shop):
    ada = shop.register("Ada", None)
    view = shop.get(f"/v1/customers/{ada['id']}", token=ada["consistency_token"]).json()
    assert (view["order_count"], view["lifetime_spend"], view["currency"], view["average_order_value"],
            view["spend_by_currency"], view["open_opportunities_list"]) == (0, "0.00", None, None, [], [])
    assert view["last_interaction_at"] == view["created_at"]
    assert [i["event_type"] for i in view["last_interactions"]] == ["Customer.Registered"]


def test_patch_changes_only_the_fields_sent(shop):
    ada = shop.register("Ada Potter", "ada@example.com", phone="+447911123456", source="etsy")
    path = f"/v1/customers/{ada['id']}"

    changed = _ok(shop.patch(path, {"name": "Ada Baker", "phone": None}))
    assert changed["version"] == 2
    view = shop.get(path, token=changed["consistency_token"]).json()
    assert (view["name"], view["email"], view["phone"], view["source"]) == \
        ("Ada Baker", "ada@example.com", None, "etsy")
    assert names(shop, changed["consistency_token"], q="ada b") == ["Ada Baker"]
    assert names(shop, changed["consistency_token"], q="ada p") == []

    same = _ok(shop.patch(path, {"name": "Ada Baker", "email": "ada@EXAMPLE.com"}))
    assert same["version"] == 2                            # nothing changed: nothing stored
    assert len(shop.get(f"{path}/history").json()) == 2


def test_patch_refuses_clearing_the_name(shop):
    ada = shop.register()
    assert_problem(shop.patch(f"/v1/customers/{ada['id']}", {"name": None}), 422, "name")


def test_notes_and_communications_answer_201_and_reach_the_timeline(shop):
    ada = shop.register()
    path = f"/v1/customers/{ada['id']}"
    note = shop.post(f"{path}/notes", {"text": "Allergic to nuts"})
    call = shop.post(f"{path}/communications", {"channel": "whatsapp", "direction": "outbound",
                                                "subject": "Your order", "summary": "Sent tracking"})
    assert (note.status_code, call.status_code) == (201, 201)
    assert call.json()["version"] == 3
    items = shop.get(f"{path}/timeline", token=call.json()["consistency_token"]).json()["items"]
    assert [(i["kind"], i["summary"]) for i in items] == [
        ("communication", "Outbound whatsapp: Your order"), ("note", "Allergic to nuts"),
        ("profile", "Registered Ada Potter")]
    assert items[0]["data"]["summary"] == "Sent tracking"


def test_tags_route_adds_and_removes(shop):
    ada = shop.register()
    path = f"/v1/customers/{ada['id']}"
    _ok(shop.post(f"{path}/tags", {"add": ["VIP", "local"]}))
    tagged = _ok(shop.post(f"{path}/tags", {"add": ["gift-buyer"], "remove": ["local"]}))
    view = shop.get(path, token=tagged["consistency_token"]).json()
    assert view["tags"] == ["vip", "gift-buyer"]
    assert names(shop, tagged["consistency_token"], tag="gift-buyer") == ["Ada Potter"]


def test_an_archived_customer_is_listed_as_archived_and_refuses_changes(shop):
    ada = shop.register()
    path = f"/v1/customers/{ada['id']}"
    archived = _ok(shop.post(f"{path}/archive", {"reason": "closed the account"}))
    assert archived["version"] == 2
    view = shop.get(path, token=archived["consistency_token"]).json()
    assert view["status"] == "archived"
    for method, suffix, body in (("patch", "", {"name": "X"}), ("post", "/notes", {"text": "x"}),
                                 ("post", "/archive", {})):
        body = assert_problem(getattr(shop, method)(path + suffix, body), 409)
        assert body["type"].endswith("invalid-transition")
    assert len(shop.get(f"{path}/history").json()) == 2


def test_the_same_order_twice_answers_the_same_version(shop):
    ada = shop.register()
    order = {"order_id": "A-1", "amount": "10.00", "currency": "GBP", "item_count": 1}
    first = _ok(shop.post(f"/v1/customers/{ada['id']}/orders", order))
    again = _ok(shop.post(f"/v1/customers/{ada['id']}/orders", {**order, "amount": "99.00"}))
    assert first == again


# -- the timeline --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def history(make_tenant):
    """A customer whose orders and calls happened in the past, plus a note made now."""
    shop = make_tenant("Timeline shop")
    ada = shop.register("Ada Potter", "ada@example.com")
    path = f"/v1/customers/{ada['id']}"
    _ok(shop.post(f"{path}/communications", {"channel": "email", "direction": "inbound",
                                             "subject": "Hello", "occurred_at": "2025-01-01T00:00:00Z"}))
    _ok(shop.post(f"{path}/orders", {"order_id": "O-2", "amount": "30.00", "currency": "GBP",
                                     "item_count": 2, "occurred_at": "2025-06-01T12:00:00+02:00"}))
    _ok(shop.post(f"{path}/orders", {"order_id": "O-1", "amount": "10.00", "currency": "GBP",
                                     "item_count": 1, "occurred_at": "2024-12-24T09:00:00Z"}))
    _ok(shop.post(f"{path}/communications", {"channel": "sms", "direction": "outbound",
                                             "occurred_at": "2025-01-01T00:00:00Z"}))  # same time
    last = _ok(shop.post(f"{path}/notes", {"text": "Wants an engraving"}))
    return shop, path, last["consistency_token"]


def timeline(shop, path, token, **params) -> list[dict]:
    return [row for page in walk(shop, f"{path}/timeline", token, **params) for row in page]


def test_the_timeline_is_newest_first_by_when_things_happened(history):
    shop, path, token = history
    rows = timeline(shop, path, token)
    assert [(r["kind"], r["summary"]) for r in rows] == [
        ("note", "Wants an engraving"),
        ("profile", "Registered Ada Potter"),
        ("order", "Order O-2: 30.00 GBP, 2 item(s)"),
        ("communication", "Outbound sms"),              # same moment: the later event first
        ("communication", "Inbound email: Hello"),
        ("order", "Order O-1: 10.00 GBP, 1 item(s)"),
    ]
    assert rows[2]["occurred_at"].startswith("2025-06-01T10:00:00")  # stored in UTC
    assert [r["version"] for r in rows] == [6, 1, 3, 5, 2, 4]
    assert all(r["event_type"].startswith("Customer.") and r["actor"].startswith("key ") for r in rows)


def test_the_timeline_filters_by_kind(history):
    shop, path, token = history
    assert [r["summary"] for r in timeline(shop, path, token, kind="order")] == [
        "Order O-2: 30.00 GBP, 2 item(s)", "Order O-1: 10.00 GBP, 1 item(s)"]
    both = timeline(shop, path, token, kind=["order", "note"])
    assert [r["kind"] for r in both] == ["note", "order", "order"]
    assert timeline(shop, path, token, kind="campaign") == []


def test_the_timeline_filters_by_time_range(history):
    shop, path, token = history
    rows = timeline(shop, path, token, since="2025-01-01T00:00:00Z", until="2025-06-01T10:00:00Z")
    assert [r["summary"] for r in rows] == ["Outbound sms", "Inbound email: Hello"]  # since inclusive
    rows = timeline(shop, path, token, since="2025-01-01T00:00:01Z", until="2026-01-01T00:00:00Z")
    assert [r["summary"] for r in rows] == ["Order O-2: 30.00 GBP, 2 item(s)"]


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_the_timeline_cursor_walks_every_entry_once(history, limit):
    shop, path, token = history
    everything = timeline(shop, path, token, limit=200)
    pages = walk(shop, f"{path}/timeline", token, limit=limit)
    assert [r for page in pages for r in page] == everything
    assert all(len(page) == limit for page in pages[:-1])
    by_kind = walk(shop, f"{path}/timeline", token, limit=limit, kind=["order", "communication"])
    assert [r["version"] for page in by_kind for r in page] == [3, 5, 2, 4]


def test_timeline_times_are_timezone_aware(history):
    shop, path, token = history
    for row in timeline(shop, path, token):
        assert datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00")).tzinfo is not None


def test_archive_needs_no_body(shop):
    ada = shop.register()
    response = shop.client.post(f"/v1/customers/{ada['id']}/archive", headers=shop.headers)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2


ADDRESS_TEXT = st.text(st.sampled_from("aAbBéÉßİiıσΣς%_\\.@ǅǆ"), max_size=6)


@settings(max_examples=300, deadline=None)
@given(emails=st.lists(ADDRESS_TEXT, min_size=1, max_size=12), q=ADDRESS_TEXT.filter(bool))
def test_the_search_selects_the_addresses_that_start_with_it_whatever_their_case(emails, q):
    """The ILIKE before the exact test must never reject an address the exact test would keep
    (a wildcard in the query, letters whose lower case differs in length, ...)."""
    db = duckdb.connect()
    db.execute("CREATE TABLE customers (tenant_id VARCHAR, name_lower VARCHAR, email VARCHAR)")
    db.executemany("INSERT INTO customers VALUES ('t', '', ?)", [[e] for e in emails])
    where, params = directory_filters(db, "t", "customers", q=q)
    found = db.execute(f"SELECT email FROM customers WHERE {' AND '.join(where)}", params).fetchall()
    exact = db.execute("SELECT email FROM customers WHERE starts_with(lower(email), ?)",
                       [q.lower()]).fetchall()
    assert sorted(found) == sorted(exact)
