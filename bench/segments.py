"""Segment membership: dynamic segments over the populated tenant, and how long an order takes
to put its customer into a segment's members on the embedded node.

Two segments, as a shop would have: "RFM segment is Champions" (RFM_RULE: it depends on every
customer of the tenant, so a batch's customers cannot settle it alone, see
readmodels/large_tenants.py) and "lifetime spend ≥ THRESHOLD" (the demo's currency), whose
latency is measured with the first one defined: every order's batch evaluates both. For the
latency, a fresh customer (named to sort first in the members list) is
registered and, once the node shows the registration, an order above the
threshold is recorded for them; the clock
starts when the order's 201 arrives and stops when a members query carrying
the order's `X-Consistency-Token` answers with the customer on its first page.
Orders are sequential, with no other load: the figure is the projector's
apply plus the membership refresh plus one query, not queueing.
"""

from __future__ import annotations

import time

import httpx

from bench.stats import latency_ms

THRESHOLD = "150"
RULE = {"field": "lifetime_spend", "op": "gte", "value": THRESHOLD}
RFM_RULE = {"field": "rfm_segment", "op": "eq", "value": "Champions"}


def visible(http: httpx.Client, path: str, token: str) -> httpx.Response:
    """GET with a consistency token, asking again while the node answers 503 (it waits a few
    seconds for the token, then tells the client to retry: evaluating a new segment over 1M
    customers takes longer than that)."""
    while True:
        answer = http.get(path, headers={"X-Consistency-Token": token})
        if answer.status_code != 503:
            answer.raise_for_status()
            return answer


def define(url: str, headers: dict, name: str, rule: dict) -> dict:
    """Defines a segment and waits until its membership is evaluated; returns its view."""
    with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
        answer = http.post("/v1/segments", json={"name": name, "kind": "dynamic", "rule": rule})
        answer.raise_for_status()
        accepted = answer.json()
        started = time.perf_counter()
        view = visible(http, f"/v1/segments/{accepted['id']}", accepted["consistency_token"])
        return {**view.json(), "evaluated_ms": (time.perf_counter() - started) * 1000}


def order_to_member(url: str, headers: dict, segment_id: str, orders: int) -> dict:
    latencies, missing = [], 0
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        for i in range(orders):
            customer = http.post("/v1/customers", json={"name": f"0000 Bench member {i:04d}",
                                                        "email": f"bench.member.{i}@example.com"})
            customer.raise_for_status()
            customer_id = customer.json()["id"]
            # the registration applied first, so the clock below times the order alone
            visible(http, f"/v1/customers/{customer_id}/timeline?limit=1",
                    customer.json()["consistency_token"])
            order = http.post(f"/v1/customers/{customer_id}/orders",
                              json={"order_id": f"bench-{i}", "amount": "200.00",
                                    "currency": "GBP", "item_count": 1})
            order.raise_for_status()
            accepted = time.perf_counter()
            page = visible(http, f"/v1/segments/{segment_id}/members?limit={orders + 10}",
                           order.json()["consistency_token"])
            if any(row["id"] == customer_id for row in page.json()["items"]):
                latencies.append(time.perf_counter() - accepted)
            else:
                missing += 1
    return {**latency_ms(latencies), "orders": orders, "not_member": missing}
