"""The daily sales sweep as a scheduler job: idle follow-ups, rotting alerts, quote expiry.

The sweep judges deals by the node's read models, so the job runs where a
read store is (the embedded mode's scheduler). Every tenant with deals is swept
once a day at SWEEP_HOUR UTC; a tenant first seen after that hour is swept at
once. Running it again the same day creates nothing twice (task ids derive from
the deal's idle period), so a restart that sweeps early is harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from commands.application import Crm
from domain.base import Meta
from projections.envelope import Envelope
from readmodels.store import ReadStore
from workers.log_worker import DueTimes
from workers.sales_policies import run_sweep

log = logging.getLogger("crm.sales_sweep")

SWEEP_HOUR = 6
ACTOR = "sales-sweep"


def next_sweep(after: datetime) -> datetime:
    """The first SWEEP_HOUR:00 UTC strictly after ``after``."""
    today = after.replace(hour=SWEEP_HOUR, minute=0, second=0, microsecond=0)
    return today if today > after else today + timedelta(days=1)


class DailySalesSweep:
    name = "daily sales sweep"

    def __init__(self, crm: Crm, store: ReadStore) -> None:
        self.crm, self.store = crm, store
        self.waiting = DueTimes()
        self.results: dict[str, dict] = {}

    def observe(self, e: Envelope) -> None:
        if e.type.startswith("Opportunity.") and e.tenant not in self.waiting.times \
                and e.tenant not in self.results:
            # Due at the first sweep hour after the tenant's first deal event.
            self.waiting.set(e.tenant, next_sweep(datetime.fromisoformat(e.occurred_at)))

    def due(self, now: datetime) -> list[str]:
        return self.waiting.due(now)

    def perform(self, tenant_id: str, now: datetime) -> None:
        try:
            self.results[tenant_id] = run_sweep(self.crm, self.store.reader(),
                                                Meta(tenant_id=tenant_id, actor=ACTOR), now)
            log.info("sales sweep of tenant %s: %s", tenant_id,
                     {k: len(v) for k, v in self.results[tenant_id].items()})
        finally:
            self.waiting.set(tenant_id, next_sweep(now))

    def next_time(self) -> datetime | None:
        return self.waiting.next_time()
