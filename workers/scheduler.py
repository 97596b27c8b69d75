"""The scheduler worker (``crm worker scheduler``): launches scheduled campaigns on time.

Schedules live in the event store, not in the scheduler: on start the worker
reads the log (from its checkpoint, workers/checkpoints.py, or from the
beginning) and rebuilds one apscheduler date job per campaign that is still
scheduled (``campaign:<id>`` at its ``scheduled_for``), so a restart, or a
crash, loses none; a launch whose time passed while no scheduler ran happens
at once (no misfire grace limit). Every ``poll`` seconds it reads what the log
gained and adds, moves or drops jobs. A job that fires performs whatever is
due by the worker's clock, which tests replace, calling
:meth:`SchedulerWorker.fire` themselves instead of waiting.

Two schedulers may run for failover: a launch is a command on the campaign at
the version read, so the second finds it launched (or loses the race) and
does nothing. Other time-driven jobs (automation waits) plug in as further
:class:`workers.log_worker.Job` s, woken at their ``next_time()``.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from uuid import UUID

from apscheduler.schedulers.background import BackgroundScheduler

from commands.application import Crm
from commands.campaigns import launch_scheduled
from domain.base import Meta
from projections.envelope import Envelope
from workers.checkpoints import SAVE_EVERY_S
from workers.log_worker import Clock, DueTimes, Job, LogWorker, wall_clock

log = logging.getLogger("crm.scheduler")

ACTOR = "scheduler"
RETRY = timedelta(seconds=30)


class CampaignLaunches:
    """The campaigns waiting for their scheduled launch."""

    name = "campaign launches"
    interest_grows = False  # workers/log_worker.py: wants() is every Campaign event, always
    checkpoint_key = "campaign launches"
    checkpoint_format = 1

    def __init__(self, crm: Crm, per_minute: dict[str, int] | None = None,
                 segment_members=None) -> None:
        self.crm = crm
        self.per_minute = per_minute
        self.segment_members = segment_members  # (tenant, segment) -> ids, where a read store is
        self.waiting = DueTimes()  # the work queue: also holds the retries of failed launches
        # What the log says (campaign -> (when, tenant)): what the checkpoint keeps.
        self.scheduled_by_log: dict[UUID, tuple[datetime, str]] = {}
        self.tenants: dict[UUID, str] = {}
        self.results: dict[UUID, str] = {}

    def wants(self, event_type: str) -> bool:
        return event_type.startswith("Campaign.")

    def observe(self, e: Envelope) -> None:
        if e.type == "Campaign.Scheduled":
            self._schedule(e.aggregate_id, datetime.fromisoformat(e.data["scheduled_for"]),
                           e.tenant)
        elif e.type in ("Campaign.Launched", "Campaign.Cancelled", "Campaign.LaunchFailed",
                        "Campaign.Completed"):
            self.waiting.discard(e.aggregate_id)
            self.scheduled_by_log.pop(e.aggregate_id, None)

    def _schedule(self, campaign_id: UUID, when: datetime, tenant: str) -> None:
        self.waiting.set(campaign_id, when)
        self.tenants[campaign_id] = tenant
        self.scheduled_by_log[campaign_id] = (when, tenant)

    def state(self) -> list[list[str]]:
        return [[str(key), when.isoformat(), tenant]
                for key, (when, tenant) in self.scheduled_by_log.items()]

    def restore(self, state: list[list[str]]) -> None:
        for key, when, tenant in state:
            self._schedule(UUID(key), datetime.fromisoformat(when), tenant)

    def due(self, now: datetime) -> list[UUID]:
        return self.waiting.due(now)

    def perform(self, campaign_id: UUID, now: datetime) -> None:
        meta = Meta(tenant_id=self.tenants[campaign_id], actor=ACTOR)
        try:
            result = launch_scheduled(self.crm, meta, campaign_id, now, self.per_minute,
                                      self.segment_members)
        except Exception:  # the store is down, or conflicts persisted: try again shortly
            self.waiting.set(campaign_id, now + RETRY)
            raise
        self.results[campaign_id] = result
        log.info("scheduled campaign %s: %s", campaign_id, result)

    def scheduled(self) -> dict[UUID, datetime]:
        return dict(self.waiting.times)

    def next_time(self) -> datetime | None:
        return self.waiting.next_time()


class SchedulerWorker:
    def __init__(self, crm: Crm, clock: Clock = wall_clock, per_minute: dict[str, int] | None = None,
                 extra_jobs: list[Job] | None = None, poll: float = 5.0,
                 segment_members=None) -> None:
        self.launches = CampaignLaunches(crm, per_minute, segment_members)
        self.jobs: list[Job] = [self.launches, *(extra_jobs or [])]
        self.worker = LogWorker(crm, self.jobs, clock)
        self.poll = poll
        self.lock = threading.Lock()   # one of sync / fire at a time
        self.stopped = False
        self.apscheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"misfire_grace_time": None, "coalesce": True,
                                          "max_instances": 1})

    # -- what apscheduler runs ----------------------------------------------------------------

    def sync(self) -> None:
        """Reads the log's new events and makes the date jobs match what is scheduled."""
        with self.lock:
            if self.stopped:
                return
            self.worker.catch_up()
            self.worker.save_checkpoint(SAVE_EVERY_S)
            wanted = {f"campaign:{cid}": when for cid, when in self.launches.scheduled().items()}
            for job in self.jobs[1:]:
                when = job.next_time() if hasattr(job, "next_time") else None
                if when is not None:
                    wanted[f"wake:{job.name}"] = when
            if (when := self.worker.retries.next_time()) is not None:  # a perform that raised
                wanted["wake:retries"] = when
            for job in self.apscheduler.get_jobs():
                if job.id.startswith(("campaign:", "wake:")) and job.id not in wanted:
                    job.remove()
            for job_id, when in wanted.items():
                existing = self.apscheduler.get_job(job_id)
                if existing is None or existing.trigger.run_date != when:
                    self.apscheduler.add_job(self.fire, "date", run_date=when, id=job_id,
                                             replace_existing=True)

    def fire(self) -> int:
        """Performs everything due now (by the worker's clock); returns how many items."""
        with self.lock:
            if self.stopped:
                return 0
            done = self.worker.run_once()
        self.sync()
        return done

    # -- running --------------------------------------------------------------------------------

    def start(self, paused: bool = False) -> None:
        self.sync()  # rebuilt from the events before anything runs
        self.apscheduler.add_job(self.sync, "interval", seconds=self.poll, id="sync",
                                 replace_existing=True)
        self.apscheduler.start(paused=paused)

    def stop(self) -> None:
        # Not shutdown(wait=True): it holds apscheduler's job store lock while it waits for
        # running jobs, and a running sync() needs that lock. Jobs starting after this see
        # ``stopped`` and return at once; the one in progress (if any) finishes first.
        with self.lock:
            self.stopped = True
            if self.apscheduler.running:
                self.apscheduler.shutdown(wait=False)
            self.worker.save_checkpoint_on_stopping()

    def timetable(self) -> dict[str, datetime]:
        """The date jobs apscheduler holds: job id -> when it runs."""
        return {job.id: job.trigger.run_date for job in self.apscheduler.get_jobs()
                if job.id != "sync"}

    def run(self, stopping: threading.Event) -> None:
        self.start()
        try:
            stopping.wait()
        finally:
            self.stop()
