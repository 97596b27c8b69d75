"""In process, no HTTP: timeline, 360 view and RFM on a read-model file a bench run left behind
(`--keep-work`, or a failed run), one call after another.

    python -m bench.file_reads WORK/readmodels.duckdb [seconds per query]

Used for the 1M-customer figures, where the whole run did not finish (docs/PERFORMANCE.md):
it measures the per-request cost of the read-model code itself, without uvicorn, pydantic
responses or queueing, on the tenant with the most customers.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from bench import rfm_baseline
from bench.stats import latency_ms
from readmodels.customer360 import customer_360
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


def measure(path: Path, seconds: float) -> dict:
    store = ReadStore(path)
    try:
        db = store.reader()
        schema = store.live_schema("customer_directory")
        tenant, customers = db.execute(
            f"SELECT tenant_id, count(*) FROM {schema}.customers GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
        ids = [row[0] for row in db.execute(
            f"SELECT id FROM {schema}.customers WHERE tenant_id = ? USING SAMPLE 2000 ROWS",
            [tenant]).fetchall()]
        rng = random.Random(3)
        return {
            "tenant_customers": customers,
            "timeline": _timed(lambda: timeline(store.reader(), tenant, rng.choice(ids), limit=50),
                               seconds),
            "customer_360": _timed(lambda: customer_360(store.reader(), tenant, rng.choice(ids)),
                                   seconds),
            "rfm_against_bare_duckdb": rfm_baseline.measure(store, tenant, seconds / 2),
        }
    finally:
        store.close()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    print(json.dumps(measure(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) == 3 else 10),
                     indent=1, default=str))
