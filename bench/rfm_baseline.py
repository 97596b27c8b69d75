"""RFM as the service computes it against a bare DuckDB quintile query on the same orders.

Both run in this process on the read-model file the projector built, with no
HTTP in between, so the ratio is the cost of the service's query shape alone:
the route's call (`readmodels.rfm.customers`, scores from the per-customer
summaries, active customers only, the tenant's main currency, named segments,
names and emails, a keyset page of 50) and the same call with `as_of` (metrics
from the orders table itself), against the least SQL that gives R, F and M
quintile scores from the orders table and the 50 biggest spenders.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from readmodels import rfm

BARE = """
    WITH m AS (SELECT customer_id, max(occurred_at) AS last_order_at, count(*) AS frequency,
                      sum(amount) AS monetary
               FROM orders WHERE tenant_id = ? GROUP BY customer_id),
    bp AS (SELECT quantile_cont(epoch(last_order_at), [0.2, 0.4, 0.6, 0.8]) AS r_bp,
                  quantile_cont(frequency, [0.2, 0.4, 0.6, 0.8]) AS f_bp,
                  quantile_cont(monetary::DOUBLE, [0.2, 0.4, 0.6, 0.8]) AS m_bp FROM m)
    SELECT customer_id, 1 + len(list_filter(r_bp, lambda b: b < epoch(last_order_at))) AS r,
           1 + len(list_filter(f_bp, lambda b: b < frequency)) AS f,
           1 + len(list_filter(m_bp, lambda b: b < monetary)) AS m
    FROM m, bp ORDER BY monetary DESC, customer_id LIMIT 50"""


def _timed_ms(call, seconds: float) -> float:
    """Median time of one call, repeating it for about ``seconds`` (at least 3 times)."""
    call()  # warm: the first run pays for loading the columns
    times, stop = [], time.perf_counter() + seconds
    while len(times) < 3 or time.perf_counter() < stop:
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[len(times) // 2]


def measure(store, tenant_id: str, seconds: float) -> dict:
    db = store.reader()
    now = datetime.now(timezone.utc)
    rows = db.execute("SELECT count(*), count(DISTINCT customer_id) FROM orders WHERE tenant_id = ?",
                      [tenant_id]).fetchone()
    service = _timed_ms(lambda: rfm.customers(db, tenant_id, None, limit=50), seconds)
    service_as_of = _timed_ms(lambda: rfm.customers(db, tenant_id, now, limit=50), seconds)
    bare = _timed_ms(lambda: db.execute(BARE, [tenant_id]).fetchall(), seconds)
    return {"orders": rows[0], "customers_with_orders": rows[1], "service_ms": service,
            "service_as_of_ms": service_as_of, "bare_duckdb_ms": bare,
            "ratio": service / bare, "ratio_as_of": service_as_of / bare}
