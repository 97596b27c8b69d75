"""Node jobs: periodic work that needs a node's read models, run on every node that has them.

Some automation judges the present state of many things at once (which deals
went idle, which contracts come up for renewal). That state is in the read
models, and a read model lives in exactly one process (a *query node*, or the
embedded ``crm serve``). So this work cannot live in a stand-alone worker: it
runs in a thread of every node with a read store, started and stopped with
the app (api/app.py). With several query nodes, each runs every job: a job
must be idempotent across nodes (derive the ids of what it creates from their
cause, so the event store refuses the second copy).

**A job** is any object with::

    name: str                           # for logs
    def tick(self, now: datetime) -> None

``tick`` is called every ``CRM_NODE_JOBS_SECONDS`` (default 60) with the
node's clock; the job decides itself whether anything is due (a daily job
remembers the day it last did). A tick that raises is logged and the job is
ticked again next time; it never stops the thread or the other jobs.

**Adding a job** is one line in :func:`node_jobs`.

``CRM_NODE_JOBS=0`` turns the thread off on a node (e.g. to keep one query
node free of this work). Jobs start ticking only once the node has caught up
with the log as it stood at the first tick, so a new, still empty node does
not judge deals by half-built read models.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Protocol

from commands.application import Crm
from readmodels.store import ReadStore

log = logging.getLogger("crm.node_jobs")

Clock = Callable[[], datetime]


class NodeJob(Protocol):
    name: str

    def tick(self, now: datetime) -> None:
        """Does whatever is due at ``now``; must be idempotent across nodes and restarts."""


def node_jobs(crm: Crm, store: ReadStore) -> list[NodeJob]:
    """Every job a node with read models runs. Add a job here."""
    from workers.sales_sweep import daily_renewal_reminders, daily_sales_sweep
    from workers.segment_entries import SegmentEntries
    return [
        daily_sales_sweep(crm, store),
        daily_renewal_reminders(crm, store),
        SegmentEntries(crm, store),  # segment entries/exits as events, for automations
    ]


def wall_clock() -> datetime:
    return datetime.now(timezone.utc)


def caught_up(crm: Crm, store: ReadStore, feed=None) -> Callable[[], bool]:
    """Whether the node has caught up with the log as it stood at the first question.

    A node following the log has when its position reaches the head of the log
    read the first time it is asked (the first tick); a node fed by Kafka has
    when its feed reports no lag. Once true, it stays true (later lags are the
    ordinary few events in flight).
    """
    head: list[int] = []
    reached = threading.Event()

    def ready() -> bool:
        if not reached.is_set():
            if feed is not None:
                done = feed.lag == 0
            else:
                if not head:  # asked lazily: the event store may be down while the node starts
                    head.append(crm.recorder.max_notification_id() or 0)
                done = store.node_position() >= head[0]
            if done:
                reached.set()
        return reached.is_set()
    return ready


class NodeJobs(threading.Thread):
    """Ticks the jobs every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, jobs: list[NodeJob], interval: float | None = None,
                 clock: Clock = wall_clock, ready: Callable[[], bool] = lambda: True,
                 enabled: bool | None = None) -> None:
        super().__init__(name="node-jobs", daemon=True)
        self.jobs = jobs
        self.interval = interval if interval is not None else float(
            os.environ.get("CRM_NODE_JOBS_SECONDS") or 60)
        self.enabled = enabled if enabled is not None else os.environ.get("CRM_NODE_JOBS", "1") != "0"
        self.clock = clock        # tests replace it
        self.ready = ready
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # one round at a time (the thread's, or a test's)
        self.ticks = 0                # rounds that ticked the jobs

    def run_once(self) -> list[str]:
        """Ticks every job once with the clock's time (if the node has caught up); returns the
        names of the jobs whose tick failed."""
        with self.lock:
            if not self.ready():
                return []
            now = self.clock()
            failed = []
            for job in self.jobs:
                try:
                    job.tick(now)
                except Exception:  # logged; the job is ticked again next round
                    log.exception("node job %s failed; ticking it again in %s s", job.name,
                                  self.interval)
                    failed.append(job.name)
            self.ticks += 1
            return failed

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # the readiness check itself failed (store closing): next round
                log.exception("node jobs round failed")

    def start(self) -> None:
        if self.enabled:
            log.info("node jobs every %s s: %s", self.interval, [job.name for job in self.jobs])
            super().start()

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=30)
