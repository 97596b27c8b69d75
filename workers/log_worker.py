"""Competing consumers over the event store: work that is due, taken by one worker at a time.

A *job* (sending messages, delivering webhooks, launching scheduled
campaigns, advancing automations) follows the whole event log to know what is
outstanding and when it is due; :meth:`LogWorker.run_once` feeds it the new
events, then lets it perform what is due now. Any number of workers may run
the same job: each claims an item by appending an event to the item's
aggregate at the version it read, and the event store accepts one event per
(aggregate, version), so exactly one claim wins and the others move on. A
claim carries a lease; a worker that dies mid-item leaves it to the others
once the lease has run out, and an item whose ``perform`` raised (the store
unreachable, say) is tried again after ``RETRY_AFTER``. A (re)started worker
reads the log and knows everything outstanding again. That read is kept cheap:
a job names the event types it can learn from (``wants``), and only those are
read from the store and decoded — a sender restarted on a log of millions of
orders and notes reads its messages' events, not the orders; and every job
keeps what it learned from the log (outstanding messages, scheduled campaigns,
deliveries and runs to start, subscriptions, automations) in a checkpoint
(workers/checkpoints.py), so a restart reads only the log after it.

This is the contract of the Kafka group runner of the streaming work (one
handler per envelope, at least once, handlers idempotent) plus the clock that
leases, retries and schedules need; it runs on the embedded SQLite store and
on PostgreSQL alike, with or without Kafka. The clock is injectable, so tests
move time instead of waiting for it.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Protocol
from uuid import UUID

from commands.application import Crm
from domain.catalog import event_topics
from projections.envelope import Envelope
from projections.stored import stored_envelopes
from workers.checkpoints import SAVE_EVERY_S, Checkpoints

log = logging.getLogger("crm.worker")

Clock = Callable[[], datetime]
RETRY_AFTER = timedelta(seconds=60)


def wall_clock() -> datetime:
    return datetime.now(timezone.utc)


class Job(Protocol):
    """``interest_grows`` (optional, default True): False for a job whose :meth:`wants`
    never changes, so the worker need not ask it again about every other type after each
    event it observes (about 11 us an event, as much as decoding it).

    Checkpoints (optional, all four or none): ``checkpoint_key`` names the job's row (the
    same for every worker doing the same share of the work), ``checkpoint_format`` changes
    whenever what ``state()`` returns changes meaning, ``state()`` is what the job learned
    from the log observed so far (JSON-able; not the work in hand), and ``restore(state)``
    takes it back in a new job. A worker whose jobs all have them saves one checkpoint."""

    name: str

    def wants(self, event_type: str) -> bool:
        """Whether :meth:`observe` can learn anything from an event of this type (asked in log
        order, so the answer may change with what the job has observed)."""

    def observe(self, envelope: Envelope) -> None:
        """Learns from one event of the log (in log order) what is outstanding."""

    def due(self, now: datetime) -> Iterable[Hashable]:
        """The keys of the items to perform now."""

    def perform(self, key: Hashable, now: datetime) -> None:
        """Claims and performs one item; must tolerate losing the claim to another worker."""


class DueTimes:
    """Key -> due time, with the earliest first: what a job keeps of its outstanding items.

    A job that keeps a checkpoint records what the log says with :meth:`look_at` and
    :meth:`done`, and what performing learns (a retry's time, a lease it saw) with
    :meth:`set`: the first are also kept apart in ``logged``, which is all the checkpoint
    holds (work in hand, given out by :meth:`due`, is due again after a restart)."""

    def __init__(self) -> None:
        self.times: dict[Hashable, datetime] = {}
        self._heap: list[tuple[datetime, int, Hashable]] = []
        self._count = 0
        self.logged: dict[UUID, datetime] = {}

    def look_at(self, key: UUID, when: datetime) -> None:
        """The log says: this item is outstanding, to be looked at ``when``."""
        self.set(key, when)
        self.logged[key] = when

    def done(self, key: UUID) -> None:
        """The log says: this item is finished."""
        self.discard(key)
        self.logged.pop(key, None)

    def state(self) -> list[list[str]]:
        return [[str(key), when.isoformat()] for key, when in self.logged.items()]

    def restore(self, state: list[list[str]]) -> None:
        for key, when in state:
            self.look_at(UUID(key), datetime.fromisoformat(when))

    def set(self, key: Hashable, when: datetime) -> None:
        self.times[key] = when
        self._count += 1
        heapq.heappush(self._heap, (when, self._count, key))

    def discard(self, key: Hashable) -> None:
        self.times.pop(key, None)

    def due(self, now: datetime, limit: int = 500) -> list[Hashable]:
        found: list[Hashable] = []
        while self._heap and self._heap[0][0] <= now and len(found) < limit:
            when, _, key = heapq.heappop(self._heap)
            if self.times.get(key) == when:  # else superseded or discarded
                found.append(key)
                del self.times[key]
        return found

    def next_time(self) -> datetime | None:
        while self._heap and self.times.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def __contains__(self, key: Hashable) -> bool:
        return key in self.times

    def __len__(self) -> int:
        return len(self.times)


class LogWorker:
    def __init__(self, crm: Crm, jobs: list[Job], clock: Clock = wall_clock,
                 poll_interval: float = 0.5) -> None:
        self.crm = crm
        self.jobs = jobs
        self.clock = clock
        self.poll_interval = poll_interval
        self.position = 0
        self.retries = DueTimes()  # (job index, key) of items whose perform raised
        self.envelopes = stored_envelopes(crm.mapper)
        self.topics = event_topics()
        self.growing = [job for job in jobs if getattr(job, "interest_grows", True)]
        self.checkpoints = (Checkpoints(crm) if jobs and all(
            hasattr(job, "checkpoint_key") for job in jobs) else None)
        self.saved = (0, float("-inf"))  # (position, time.monotonic()) of the last save or read
        self.restored = False

    @property
    def checkpoint(self) -> tuple[str, str]:
        """(name, format) of this worker's checkpoint row."""
        return ("+".join(job.checkpoint_key for job in self.jobs),
                ",".join(f"{job.name}:{job.checkpoint_format}" for job in self.jobs))

    def restore(self) -> None:
        """Starts from the saved checkpoint, if there is one the log reaches (the first
        catch-up calls it); one beyond the log's head is of another history and is deleted."""
        found = self.checkpoints.load(*self.checkpoint) if self.checkpoints else None
        if found and found[0] > (self.crm.recorder.max_notification_id() or 0):
            log.warning("%s: the checkpoint at position %s is beyond the log; reading it all",
                        self.checkpoint[0], found[0])
            self.checkpoints.discard(self.checkpoint[0])
            found = None
        self.restored = True
        if not found:
            return
        position, states = found
        for job, state in zip(self.jobs, states):
            job.restore(state)
        self.position = position
        self.saved = (position, time.monotonic())
        log.info("%s: restored the checkpoint at position %s", self.checkpoint[0], position)

    def save_checkpoint(self, every_s: float = 0.0) -> bool:
        """Saves what the jobs learned up to the position read, if it moved since the last
        save and ``every_s`` have passed; returns whether it saved. Call it between catch-ups
        (the jobs' state then matches the position exactly)."""
        position, at = self.saved
        if (not self.checkpoints or self.position == position
                or time.monotonic() - at < every_s):
            return False
        self.checkpoints.save(*self.checkpoint, self.position, [job.state() for job in self.jobs])
        self.saved = (self.position, time.monotonic())
        return True

    def catch_up(self) -> int:
        """Feeds every job the events after the last one seen that it wants; returns how many
        log positions it moved past.

        The store is asked only for the topics some job wants now, up to the log's
        head as it was when the catch-up began. A job's interest can grow with what
        it observes (a webhook subscription made active wants every event after
        it), so after each observation the types not asked for are put to the
        observing jobs again; if one is now wanted, the batch ends there and the
        next one asks for the wider set from the following position.
        """
        if not self.restored:
            self.restore()
        start = self.position
        head = self.crm.recorder.max_notification_id() or 0
        while self.position < head:
            wanted = {name for name in self.topics if any(job.wants(name) for job in self.jobs)}
            if not wanted:  # interest grows only by observing: nothing can be wanted later either
                self.position = head
                break
            unwanted = [name for name in self.topics if name not in wanted]
            topics = [self.topics[name] for name in wanted] if unwanted else []
            batch = self.crm.recorder.select_notifications(
                start=self.position + 1, limit=1000, stop=head, topics=topics)
            self.position = head if len(batch) < 1000 else batch[-1].id
            for notification in batch:
                event_type = self.envelopes.type_name(notification.topic)
                observers = [job for job in self.jobs if job.wants(event_type)]
                if not observers:
                    continue
                envelope = self.envelopes.envelope(notification)
                for job in observers:
                    job.observe(envelope)
                if unwanted and any(job.wants(name) for job in observers if job in self.growing
                                    for name in unwanted):
                    self.position = notification.id
                    break
        return self.position - start

    def run_once(self) -> int:
        """Catches up, then performs everything due now; returns the number of items performed."""
        self.catch_up()
        self.save_checkpoint(SAVE_EVERY_S)
        now = self.clock()
        items = [(n, key) for n, job in enumerate(self.jobs) for key in job.due(now)]
        items += self.retries.due(now)
        for n, key in items:
            try:
                self.jobs[n].perform(key, now)
            except Exception:  # one bad item must not stop the others
                # A job forgets an item once it hands it out as due; one whose perform failed
                # before recording anything (the store unreachable, say) is tried again later,
                # not only after a restart. perform checks the item's state, so a retry of an
                # item that got done after all does nothing.
                log.exception("%s: performing %s failed; trying again in %s s",
                              self.jobs[n].name, key, RETRY_AFTER.total_seconds())
                self.retries.set((n, key), now + RETRY_AFTER)
        return len(items)

    def run_until_idle(self, rounds: int = 100) -> int:
        """For tests and one-shot runs: repeats :meth:`run_once` until nothing is due."""
        total = 0
        for _ in range(rounds):
            done = self.run_once()
            total += done
            if not done:
                return total
        raise RuntimeError(f"still busy after {rounds} rounds")

    def run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                if not self.run_once():
                    stopping.wait(self.poll_interval)
            except Exception:  # the store is unreachable: keep trying, nothing is lost
                log.exception("worker round failed; retrying in 1 s")
                stopping.wait(1.0)
        self.save_checkpoint_on_stopping()

    def save_checkpoint_on_stopping(self) -> None:
        """The last save, so a restart reads only what comes after; a failure is logged, not
        raised (the next start reads from the last checkpoint saved instead)."""
        try:
            self.save_checkpoint()
        except Exception:
            log.exception("saving the checkpoint on stopping failed")
