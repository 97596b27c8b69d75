"""The daily sales jobs of a node with read models: the sales sweep and renewal reminders.

Both judge deals and contracts by the node's read models, so they are node
jobs (workers/node_jobs.py): every node that has a read store runs them, on
its ticks. Each tenant is handled once per *sales day*, which starts at
DAILY_HOUR UTC; a node that starts later in the day (or restarts) handles
the current day at its first tick after it has caught up.

* **the sales sweep** (``sales_policies.run_sweep``): idle follow-ups, rotting
  alerts, quote expiry, for every tenant with deals;
* **renewal reminders** (``sales_policies.run_renewal_reminders``): a task per
  active contract up for renewal within 30 days, for every tenant with active
  contracts.

Several nodes run them at the same time, and a restart runs them again: that is
harmless because what they create has an id derived from its cause (a deal and
its last activity, a contract and its renewal date) and the event store
accepts one aggregate per id, and an expired quote cannot expire again. So the
"done" bookkeeping is kept in memory, per node; it only saves work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from commands.application import Crm
from domain.base import Meta
from readmodels.contracts import tenants_with_active_contracts
from readmodels.deals import tenants_with_deals
from readmodels.store import ReadStore
from workers.sales_policies import run_renewal_reminders, run_sweep

log = logging.getLogger("crm.sales_jobs")

DAILY_HOUR = 6  # UTC: the sales day starts here (before the working day in Europe)
Work = Callable[[Crm, object, Meta, datetime], dict]


def sales_day(now: datetime, hour: int = DAILY_HOUR) -> date:
    """The sales day ``now`` belongs to: the date of the last ``hour``:00 UTC at or before it."""
    return (now - timedelta(hours=hour)).date()


class DailyPerTenant:
    """A node job: ``work(crm, db, meta, now)`` once per sales day for each of ``tenants(db)``.

    A tenant whose work fails is logged and tried again at the next tick; the
    others are not held up. Once every tenant is done, ticks until the next
    sales day cost nothing (not even a query).
    """

    def __init__(self, name: str, actor: str, crm: Crm, store: ReadStore,
                 tenants: Callable[[object], list[str]], work: Work) -> None:
        self.name, self.actor = name, actor
        self.crm, self.store = crm, store
        self.tenants, self.work = tenants, work
        self.day: date | None = None         # the sales day being worked on
        self.done: set[str] = set()          # tenants done for it
        self.complete = False                # every tenant done for it
        self.results: dict[str, dict] = {}   # per tenant, the last run's report

    def tick(self, now: datetime) -> None:
        day = sales_day(now)
        if day != self.day:
            self.day, self.done, self.complete = day, set(), False
        if self.complete:
            return
        db = self.store.reader()
        failed = 0
        try:
            for tenant_id in self.tenants(db):
                if tenant_id in self.done:
                    continue
                try:
                    report = self.work(self.crm, db, Meta(tenant_id=tenant_id, actor=self.actor),
                                       now)
                except Exception:
                    failed += 1
                    log.exception("%s of tenant %s failed; trying again at the next tick",
                                  self.name, tenant_id)
                    continue
                self.done.add(tenant_id)
                self.results[tenant_id] = report
                log.info("%s of tenant %s: %s", self.name, tenant_id,
                         {k: len(v) for k, v in report.items() if v})
        finally:
            db.close()
        self.complete = not failed


def daily_sales_sweep(crm: Crm, store: ReadStore) -> DailyPerTenant:
    """Idle follow-ups, rotting alerts and quote expiry, the same run as
    ``POST /v1/automation/sales-sweep``."""
    return DailyPerTenant("daily sales sweep", "node jobs: sales sweep", crm, store,
                          tenants_with_deals, run_sweep)


def daily_renewal_reminders(crm: Crm, store: ReadStore) -> DailyPerTenant:
    """Reminder tasks for contracts up for renewal, the same run as
    ``POST /v1/contracts/renewal-reminders``."""
    return DailyPerTenant("daily renewal reminders", "node jobs: renewal reminders", crm, store,
                          tenants_with_active_contracts, run_renewal_reminders)
