"""What keeping dynamic segments current costs the projector, in process on a read-model file a
bench run left behind (`--keep-work`):

    python -m bench.segment_refresh WORK/readmodels.duckdb [runs]

After every batch the projector re-evaluates each dynamic segment of the tenants the batch
touched (readmodels/segment_membership.py): for the batch's customers, or for everyone when
the rule depends on other customers or on time. For one rule of each kind (an RFM segment, a
lead score, "ordered within 30 days", a lifetime spend threshold), on the tenant with the most
customers, this times an evaluation for everyone and for a batch's 1 and 10 customers, as the
projector runs it (the membership read and the entries written included), ``runs`` times each
(default 15). Every evaluation runs in a transaction that is rolled back: the file is unchanged.
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from bench.file_reads import busiest_tenant
from bench.stats import latency_ms
from readmodels import segment_membership
from readmodels.store import ReadStore

RULES = {
    "rfm_segment": {"field": "rfm_segment", "op": "eq", "value": "Champions"},
    "lead_score": {"field": "lead_score", "op": "gte", "value": 30},
    "ordered_within_30_days": {"field": "last_order_at", "op": "within_days", "value": 30},
    "lifetime_spend": {"field": "lifetime_spend", "op": "gte", "value": 150},
}


class _RolledBack(Exception):
    pass


def _evaluations(store: ReadStore, tenant: str, rule: dict, candidates, runs: int) -> dict:
    """``runs`` evaluations of one new segment, after a first that makes its members."""
    times = []
    try:
        with store.transaction() as cursor:
            schema = store.live_schema(segment_membership.PROJECTION)
            segment, now = uuid.uuid4(), datetime.now(timezone.utc)
            segment_membership.evaluate(cursor, schema, tenant, segment, rule, now, 1, None, "bench")
            for _ in range(runs):
                chosen = candidates()
                started = time.perf_counter()
                segment_membership.evaluate(cursor, schema, tenant, segment, rule, now, 1, chosen,
                                            "bench")
                times.append(time.perf_counter() - started)
            raise _RolledBack
    except _RolledBack:
        pass
    return latency_ms(times)


def measure(path: Path, runs: int = 15) -> dict:
    store = ReadStore(path)
    try:
        tenant, customers, ids = busiest_tenant(store, 1000)
        rng = random.Random(5)
        figures = {"tenant_customers": customers}
        for name, rule in RULES.items():
            figures[name] = {
                "everyone": _evaluations(store, tenant, rule, lambda: None, runs),
                "1_customer": _evaluations(store, tenant, rule, lambda: rng.sample(ids, 1), runs),
                "10_customers": _evaluations(store, tenant, rule, lambda: rng.sample(ids, min(10, len(ids))), runs),
            }
        return figures
    finally:
        store.close()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    print(json.dumps(measure(Path(sys.argv[1]), *(int(a) for a in sys.argv[2:])), indent=1))
