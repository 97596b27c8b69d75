"""RFM now comes from per-tenant breakpoints cached under a change token (readmodels/rfm.py,
readmodels/tenant_changes.py): an order or an archived customer that moves a tenant's
quintiles shows in the very next 360 view and RFM list, and other tenants' tokens stay; a
large tenant's breakpoints stand for a while after such a change."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from readmodels import large_tenants, tenant_changes
from tests.test_rfm import _ok, _order, _shop

# name: (days since the last order, number of orders, amount of each order in GBP), as in
# tests/test_rfm.py but relative to now: the 360 view and the list without as_of score now.
DATA = {
    "c1": (5, 5, 50), "c2": (5, 1, 30), "c3": (20, 1, 200), "c4": (20, 2, 10), "c5": (50, 3, 20),
    "c6": (50, 4, 40), "c7": (100, 5, 60), "c8": (100, 3, 5), "c9": (200, 2, 25),
    "c10": (200, 4, 100),
}


def _scores(row: dict) -> tuple:
    return row["r"], row["f"], row["m"], row["recency_days"], row["frequency"], row["monetary"], \
        row["segment"]


def _check_against_uncached(tenant, ids: dict, token: str) -> dict:
    """Every customer's 360 RFM and the list's rows equal what the orders give as of a moment
    later today (``as_of``: computed from the orders, never cached). Returns the 360 scores."""
    later = datetime.now(timezone.utc) + timedelta(seconds=1)
    from_orders = {row["id"]: _scores(row) for row in _ok(tenant.get("/v1/rfm", token=token, params={
        "as_of": later.isoformat(), "limit": 200}))["items"]}
    listed = {row["id"]: _scores(row) for row in _ok(tenant.get("/v1/rfm", params={"limit": 200}))["items"]}
    views = {}
    for name, customer_id in ids.items():
        rfm = _ok(tenant.get(f"/v1/customers/{customer_id}"))["rfm"]
        views[name] = _scores(rfm) if rfm else None
        assert views[name] == from_orders.get(customer_id), name
    assert listed == from_orders
    return views


def test_an_order_or_an_archive_that_moves_the_quintiles_shows_in_the_next_read(tenant, other_tenant):
    now = datetime.now(timezone.utc)
    ids, last = _shop(tenant, DATA, now)
    other = other_tenant.register("Stranger", None)["id"]
    other_last = _order(other_tenant, other, "s-1", 10, now - timedelta(days=3))

    views = _check_against_uncached(tenant, ids, last["consistency_token"])
    assert views["c4"][0:3] == (4, 2, 1) and views["c4"][6] == "Potential Loyalist"
    assert views["c9"][6] == "Hibernating"
    assert _check_against_uncached(tenant, ids, last["consistency_token"]) == views  # cached now
    assert _ok(other_tenant.get(f"/v1/customers/{other}", token=other_last["consistency_token"]))[
        "rfm"]["rfm"] == "111"

    # c9 buys: its recency moves the breakpoints, so c4 (untouched itself) slips to
    # About to Sleep (the hand computation of tests/test_rfm.py).
    bought = _order(tenant, ids["c9"], "c9-new", 25, now - timedelta(days=1))
    views = _check_against_uncached(tenant, ids, bought["consistency_token"])
    assert views["c4"][0:2] == (3, 2) and views["c4"][6] == "About to Sleep"
    assert views["c9"][0:2] == (5, 2) and views["c9"][6] == "Potential Loyalist"

    # Archived customers leave the quintiles (and the 360 has no RFM for them).
    archived = _ok(tenant.post(f"/v1/customers/{ids['c10']}/archive", {}))
    before = views
    ids_left = {name: cid for name, cid in ids.items() if name != "c10"}
    _ok(tenant.get(f"/v1/customers/{ids['c10']}", token=archived["consistency_token"]))
    assert _ok(tenant.get(f"/v1/customers/{ids['c10']}"))["rfm"] is None
    views = _check_against_uncached(tenant, ids_left, archived["consistency_token"])
    assert views != {name: v for name, v in before.items() if name != "c10"}


def test_only_what_moves_rfm_renews_a_tenants_token(app, tenant, other_tenant):
    store = app.state.store
    token = lambda t: store.reader().execute(
        f"SELECT {tenant_changes.token_sql()}", [t.id]).fetchone()[0]
    customer = tenant.register("Ada", "ada@example.com")["id"]
    other = other_tenant.register("Bea", "bea@example.com")["id"]
    ordered = _order(other_tenant, other, "o-1", 10, datetime.now(timezone.utc))
    _ok(other_tenant.get(f"/v1/customers/{other}", token=ordered["consistency_token"]))
    first = _order(tenant, customer, "o-1", 10, datetime.now(timezone.utc))
    _ok(tenant.get(f"/v1/customers/{customer}", token=first["consistency_token"]))
    after_order, others = token(tenant), token(other_tenant)
    assert after_order is not None and others is not None

    noted = _ok(tenant.post(f"/v1/customers/{customer}/notes", {"text": "Likes blue glaze."}), 201)
    _ok(tenant.get(f"/v1/customers/{customer}", token=noted["consistency_token"]))
    assert token(tenant) == after_order  # a note changes no RFM figure

    second = _order(tenant, customer, "o-2", 20, datetime.now(timezone.utc))
    _ok(tenant.get(f"/v1/customers/{customer}", token=second["consistency_token"]))
    assert token(tenant) != after_order
    assert token(other_tenant) == others


def test_a_large_tenants_breakpoints_stand_for_a_while_after_an_order(tenant, monkeypatch):
    """On a large tenant (here: any, by lowering the threshold) the order that moves the
    quintiles shows in the buyer's own metrics at once, and in everyone's scores once the
    breakpoints are older than large_tenants.LAG."""
    monkeypatch.setattr(large_tenants, "CUSTOMERS", 1)
    now = datetime.now(timezone.utc)
    ids, last = _shop(tenant, DATA, now)
    view = lambda name, token=None: _ok(tenant.get(f"/v1/customers/{ids[name]}", token=token))["rfm"]
    first = view("c4", last["consistency_token"])
    assert (first["r"], first["f"], first["segment"]) == (4, 2, "Potential Loyalist")
    assert first["breakpoints_as_of"] is None  # of the tenant's current orders

    bought = _order(tenant, ids["c9"], "c9-new", 25, now - timedelta(days=1))
    kept = view("c4", bought["consistency_token"])
    computed = datetime.fromisoformat(kept["breakpoints_as_of"])
    assert now - timedelta(seconds=1) < computed < datetime.now(timezone.utc)
    assert {**kept, "breakpoints_as_of": None} == first  # before c9's order: c4 unchanged
    buyer = view("c9")
    assert (buyer["recency_days"], buyer["frequency"]) == (1, 3)  # its own metrics are current
    assert buyer["breakpoints_as_of"] == kept["breakpoints_as_of"]

    monkeypatch.setattr(large_tenants, "LAG", timedelta(0))
    renewed = view("c4")
    assert (renewed["r"], renewed["f"], renewed["segment"]) == (3, 2, "About to Sleep")
    assert renewed["breakpoints_as_of"] is None
