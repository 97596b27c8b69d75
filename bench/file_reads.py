"""In process, no HTTP: timeline, 360 view, RFM and the built-in funnels on a read-model file
a bench run left behind (`--keep-work`, or a failed run), one call after another.

    python -m bench.file_reads WORK/readmodels.duckdb [seconds per query] [changes per second]

Used for the 1M-customer figures, where the whole run did not finish, and to see where a 360
view's time goes (docs/PERFORMANCE.md): it measures the per-request cost of the read-model code
itself, without uvicorn, pydantic responses or queueing, on the tenant with the most customers.

* ``customer_360_parts``: each of the view's statements timed alone (the profile row, the
  lists' union with the rows of the lead score, the RFM breakpoints from the cache), for the
  same customers.
* ``customer_360_while_orders``: the view while a thread renews the tenant's RFM change token
  ``changes per second`` times a second (default 20), as each batch with an order does on a
  live node (:func:`readmodels.tenant_changes.record`); that is what decides whether the RFM
  breakpoints come from the cache or are computed over the whole tenant. Measured twice: as
  the service runs (a large tenant keeps its breakpoints for a while, readmodels/rfm.py), and
  with every change recomputing them (what a tenant below ``large_tenants.CUSTOMERS`` does).
* ``lead_funnel``, ``stage_funnel``: the lead funnel and the default pipeline's stage funnel
  over the routes' default period (the last 365 days) and conversion window (90 days).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench import rfm_baseline
from bench.stats import latency_ms
from readmodels import customer360, funnels, large_tenants, pipelines, rfm, tenant_changes
from readmodels.customer360 import customer_360
from readmodels.leads import settings
from readmodels.store import ReadStore
from readmodels.timeline import timeline


def _timed(call, seconds: float) -> dict:
    for _ in range(20):  # warm-up
        call()
    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return latency_ms(times)


def _parts(store: ReadStore, tenant: str, pick, seconds: float) -> dict:
    """The 360 view's statements one by one, as :func:`customer_360` runs them."""
    rules = settings(store.reader(), tenant)["scoring_rules"]

    def params():
        return {"customer": pick(), "tenant": tenant, "now": datetime.now(timezone.utc)}

    return {
        "profile": _timed(lambda: store.reader().execute(customer360.MAIN, params()).fetchall(),
                          seconds),
        "lists": _timed(lambda: store.reader().execute(*customer360.lists_sql(
            tenant, pick(), rules)).fetchall(), seconds),
        "rfm_breakpoints": _timed(lambda: rfm.breakpoints(
            store.reader(), tenant, datetime.now(timezone.utc)), seconds),
    }


def _while_orders(store: ReadStore, tenant: str, pick, seconds: float, per_second: float) -> dict:
    stop, changes = threading.Event(), [0]

    def orders() -> None:
        while not stop.wait(1 / per_second):
            with store.transaction() as cursor:
                tenant_changes.touch(cursor, [tenant])
            changes[0] += 1

    writer = threading.Thread(target=orders, daemon=True)
    writer.start()
    try:
        kept = _timed(lambda: customer_360(store.reader(), tenant, pick()), seconds)
        large, large_tenants.CUSTOMERS = large_tenants.CUSTOMERS, sys.maxsize
        try:
            recomputed = _timed(lambda: customer_360(store.reader(), tenant, pick()), seconds)
        finally:
            large_tenants.CUSTOMERS = large
    finally:
        stop.set()
        writer.join()
    return {"changes_per_s": per_second, "changes": changes[0], "customer_360": kept,
            "customer_360_breakpoints_always_recomputed": recomputed}


def busiest_tenant(store: ReadStore, sample: int) -> tuple[str, int, list]:
    """The tenant with the most customers: its id, its number of customers and the ids of up to
    ``sample`` of them, the customers a probe asks about."""
    db = store.reader()
    tenant, customers = db.execute(
        "SELECT tenant_id, count(*) FROM customers GROUP BY 1 ORDER BY 2 DESC LIMIT 1").fetchone()
    ids = [row[0] for row in db.execute(
        f"SELECT id FROM customers WHERE tenant_id = ? USING SAMPLE {int(sample)} ROWS",
        [tenant]).fetchall()]
    return tenant, customers, ids


def funnel_period() -> tuple[datetime, datetime, timedelta]:
    """(from, to, conversion window) the funnel routes default to: the last 365 days, 90 days."""
    end = datetime.now(timezone.utc)
    return end - timedelta(days=365), end, timedelta(days=90)


def _funnels(store: ReadStore, tenant: str, seconds: float) -> dict:
    start, end, window = funnel_period()
    stages = funnels.stage_funnel(pipelines.get_pipeline(store.reader(), tenant, None), window)
    return {name: _timed(lambda: funnels.run(store.reader(), tenant, funnel, start, end), seconds)
            for name, funnel in (("lead_funnel", funnels.lead_funnel(window)),
                                 ("stage_funnel", stages))}


def measure(path: Path, seconds: float, changes_per_s: float = 20) -> dict:
    store = ReadStore(path)
    try:
        tenant, customers, ids = busiest_tenant(store, 2000)
        rng = random.Random(3)
        pick = lambda: rng.choice(ids)  # noqa: E731
        return {
            "tenant_customers": customers,
            "timeline": _timed(lambda: timeline(store.reader(), tenant, pick(), limit=50), seconds),
            "customer_360": _timed(lambda: customer_360(store.reader(), tenant, pick()), seconds),
            "customer_360_parts": _parts(store, tenant, pick, seconds),
            "customer_360_while_orders": _while_orders(store, tenant, pick, seconds, changes_per_s),
            "rfm_against_bare_duckdb": rfm_baseline.measure(store, tenant, seconds / 2),
            **_funnels(store, tenant, seconds),
        }
    finally:
        store.close()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3, 4):
        sys.exit(__doc__)
    print(json.dumps(measure(Path(sys.argv[1]), *(float(a) for a in sys.argv[2:])),
                     indent=1, default=str))
