"""The query set: each query's latency with 8 concurrent clients (queueing included) and with one
client sending requests one after another (the per-request cost alone)."""

from __future__ import annotations

import random

import httpx

from bench import load
from bench.stats import percentile, spread

CLIENTS = (1, 8)


def query_set(url: str, headers: dict, segment_id: str | None) -> dict:
    """name -> request_for(client, i), on ids of the populated tenant."""
    ids = [row["id"] for row in httpx.get(f"{url}/v1/customers?limit=200", headers=headers,
                                           timeout=60).json()["items"]]
    rng = random.Random(3)
    queries = {
        "customer_list": lambda c, i: ("GET", "/v1/customers?limit=50", None),
        "customer_search": lambda c, i: ("GET", f"/v1/customers?q={rng.choice('abcdefghijklmnopqrstuvwxyz')}", None),
        "customer_360": lambda c, i: ("GET", f"/v1/customers/{rng.choice(ids)}", None),
        "timeline": lambda c, i: ("GET", f"/v1/customers/{rng.choice(ids)}/timeline", None),
        "opportunities_by_stage": lambda c, i: ("GET", "/v1/opportunities?stage=proposal", None),
        "stage_totals": lambda c, i: ("GET", "/v1/opportunities/by-stage", None),
        "rfm": lambda c, i: ("GET", "/v1/rfm?limit=50", None),
        "pipeline_board": lambda c, i: ("GET", "/v1/pipelines/default/board", None),
        "lead_funnel": lambda c, i: ("GET", "/v1/funnels/leads", None),
    }
    if segment_id:
        queries["segment_members"] = lambda c, i: ("GET", f"/v1/segments/{segment_id}/members?limit=50", None)
    return queries


def measure(url: str, headers: dict, segment_id: str | None, repeat: int, seconds: float,
            clients: tuple[int, ...] = CLIENTS) -> dict:
    """{query: {"8": {p50, p99, per_s}, "1": {...}}}, each a spread over ``repeat`` runs."""
    figures: dict = {}
    for name, request_for in query_set(url, headers, segment_id).items():
        figures[name] = {}
        for count in clients:
            p50s, p99s, rates = [], [], []
            for _ in range(repeat):
                latencies, errors, elapsed = load.run(url, headers, count, seconds, request_for)
                if errors:
                    raise RuntimeError(f"{name}: {len(errors)} queries failed: {errors[:5]}")
                p50s.append(percentile(latencies, 0.5) * 1000)
                p99s.append(percentile(latencies, 0.99) * 1000)
                rates.append(len(latencies) / elapsed)
            figures[name][str(count)] = {"p50": spread(p50s), "p99": spread(p99s), "per_s": spread(rates)}
    return figures
