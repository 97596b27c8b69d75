"""Re-evaluates time-dependent segment rules on a query node as time passes.

Events keep segment membership current (the projector refreshes it with every
batch), but a rule such as "last order within 30 days", a lead score that
decays with silence, or an RFM segment changes while nothing happens. Every
``CRM_SEGMENT_REFRESH_SECONDS`` (default 900) this thread re-evaluates the
dynamic segments whose rules depend on time or on other customers, in the
projector's transaction discipline (its lock, one DuckDB transaction).
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import asynccontextmanager
from datetime import datetime, timezone

import orjson

from readmodels.segment_membership import refresh_tenant
from readmodels.segments import uses_relative_fields

log = logging.getLogger("crm.segments")


class SegmentRefresher(threading.Thread):
    def __init__(self, projector, interval: float | None = None) -> None:
        super().__init__(name="segment-refresher", daemon=True)
        self.projector = projector
        self.interval = interval if interval is not None else float(
            os.environ.get("CRM_SEGMENT_REFRESH_SECONDS") or 900)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # keep serving; the next round tries again
                log.exception("refreshing segments failed")

    def run_once(self, now: datetime | None = None) -> int:
        """Re-evaluates every tenant's time-dependent segments; returns the changes made."""
        store = self.projector.store
        now = now or datetime.now(timezone.utc)
        tenants = sorted({tenant for tenant, rule in store.reader().execute(
            "SELECT tenant_id, rule FROM segments WHERE kind = 'dynamic' AND NOT deleted").fetchall()
            if uses_relative_fields(orjson.loads(rule))})
        changes = 0
        for tenant_id in tenants:
            with self.projector.lock, store.transaction() as cursor:
                position = max((row["position"] for row in store.positions()), default=0)
                changes += refresh_tenant(store, cursor, tenant_id, now, position)
        return changes

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=10)


def also_running(lifespan, *workers):
    """``lifespan`` with ``workers`` (threads with start/stop) running inside it."""
    @asynccontextmanager
    async def combined(app):
        async with lifespan(app) as state:
            for worker in workers:
                if worker:
                    worker.start()
            try:
                yield state
            finally:
                for worker in workers:
                    if worker:
                        worker.stop()
    return combined
