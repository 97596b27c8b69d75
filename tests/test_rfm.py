"""RFM through HTTP against a small data set computed by hand, and ``as_of`` before and after
a purchase. The segment rule table is checked for covering every (R, F) pair once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from readmodels.rfm import SEGMENTS

T = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)
# name: (days since the last order at T, number of orders, amount of each order in GBP)
DATA = {
    "c1": (5, 5, 50), "c2": (5, 1, 30), "c3": (20, 1, 200), "c4": (20, 2, 10), "c5": (50, 3, 20),
    "c6": (50, 4, 40), "c7": (100, 5, 60), "c8": (100, 3, 5), "c9": (200, 2, 25),
    "c10": (200, 4, 100),
}
# By hand. Recency days 5,5,20,20,50,50,100,100,200,200: breakpoints 17, 38, 70, 120; a score
# is 1 + the breakpoints above the days. Frequency 1,1,2,2,3,3,4,4,5,5: breakpoints 1.8, 2.6,
# 3.4, 4.2; monetary 15,20,30,50,60,160,200,250,300,400: 28, 56, 176, 260; 1 + those below.
EXPECTED = {  # name: (R, F, M, segment)
    "c1": (5, 5, 4, "Champions"), "c2": (5, 1, 2, "New"), "c3": (4, 1, 4, "Promising"),
    "c4": (4, 2, 1, "Potential Loyalist"), "c5": (3, 3, 3, "Need Attention"),
    "c6": (3, 4, 3, "Loyal"), "c7": (2, 5, 5, "Can't Lose Them"), "c8": (2, 3, 1, "At Risk"),
    "c9": (1, 2, 2, "Hibernating"), "c10": (1, 4, 5, "At Risk"),
}


def test_every_recency_frequency_pair_has_exactly_one_segment():
    for r in range(1, 6):
        for f in range(1, 6):
            assert sum(r in rs and f in fs for _, rs, fs in SEGMENTS) == 1, (r, f)


def _ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def _order(tenant, customer_id, order_id, amount, moment) -> dict:
    return _ok(tenant.post(f"/v1/customers/{customer_id}/orders", {
        "order_id": order_id, "amount": f"{amount}.00", "currency": "GBP", "item_count": 1,
        "occurred_at": moment.isoformat()}), 201)


def _shop(tenant, data: dict, moment) -> tuple[dict[str, str], dict]:
    """Each customer of ``data`` with its orders, the last one ``days`` before ``moment`` and
    the others a week apart; returns their ids by name and the last order's answer."""
    ids = {}
    for name, (days, count, amount) in data.items():
        ids[name] = tenant.register(name, f"{name}@example.com")["id"]
        for n in range(count):
            last = _order(tenant, ids[name], f"{name}-{n}", amount, moment - timedelta(days=days + 7 * n))
    return ids, last


def test_rfm_scores_and_segments_by_hand(tenant, other_tenant):
    ids, last = _shop(tenant, DATA, T)
    names = {v: k for k, v in ids.items()}
    other_tenant.register("Stranger", None)

    page = _ok(tenant.get("/v1/rfm", token=last["consistency_token"],
                          params={"as_of": T.isoformat(), "limit": 200}))
    got = {names[row["id"]]: (row["r"], row["f"], row["m"], row["segment"]) for row in page["items"]}
    assert got == EXPECTED
    c1 = next(row for row in page["items"] if row["id"] == ids["c1"])
    assert (c1["recency_days"], c1["frequency"], c1["monetary"], c1["currency"], c1["rfm"]) == \
        (5, 5, "250.00", "GBP", "554")
    assert [names[row["id"]] for row in page["items"]][:3] == ["c10", "c7", "c1"]  # by monetary

    segments = {s["segment"]: s["customers"] for s in
                _ok(tenant.get("/v1/rfm/segments", params={"as_of": T.isoformat()}))}
    assert segments == {"Champions": 1, "Loyal": 1, "Potential Loyalist": 1, "New": 1,
                        "Promising": 1, "Need Attention": 1, "About to Sleep": 0, "At Risk": 2,
                        "Can't Lose Them": 1, "Hibernating": 1}
    at_risk = _ok(tenant.get("/v1/rfm", params={"as_of": T.isoformat(), "segment": "At Risk"}))
    assert sorted(names[row["id"]] for row in at_risk["items"]) == ["c10", "c8"]

    # Ten days earlier c2 had not ordered yet, and c1 had one order fewer.
    before = {names[row["id"]]: row for row in _ok(tenant.get("/v1/rfm", params={
        "as_of": (T - timedelta(days=10)).isoformat(), "limit": 200}))["items"]}
    assert "c2" not in before and before["c1"]["frequency"] == 4

    # A purchase by c9 a day before T moves it from Hibernating to Potential Loyalist as of T
    # (recency breakpoints become 5, 20, 50, 100 and frequency ones 1.8, 3, 3.4, 4.2: R 5, F 2),
    # and, scores being relative, c4 (20 days, R 3 now) slips to About to Sleep.
    bought = _order(tenant, ids["c9"], "c9-new", 25, T - timedelta(days=1))
    after = {names[row["id"]]: row for row in _ok(tenant.get("/v1/rfm", params={
        "as_of": T.isoformat(), "limit": 200}, token=bought["consistency_token"]))["items"]}
    assert (after["c9"]["r"], after["c9"]["f"], after["c9"]["recency_days"],
            after["c9"]["frequency"], after["c9"]["segment"]) == (5, 2, 1, 3, "Potential Loyalist")
    assert (after["c4"]["r"], after["c4"]["f"], after["c4"]["segment"]) == (3, 2, "About to Sleep")
    earlier = _ok(tenant.get("/v1/rfm", params={"as_of": (T - timedelta(days=2)).date().isoformat(),
                                                 "segment": "Hibernating"}))
    assert ids["c9"] in [row["id"] for row in earlier["items"]]

    view = _ok(tenant.get(f"/v1/customers/{ids['c9']}"))  # the 360 view: as of now
    assert view["rfm"]["frequency"] == 3 and view["rfm"]["segment"]
    assert _ok(other_tenant.get("/v1/rfm"))["items"] == []
    bad = tenant.get("/v1/rfm", params={"as_of": "last tuesday"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "as_of"
    assert tenant.get("/v1/rfm", params={"segment": "Whales"}).status_code == 422
