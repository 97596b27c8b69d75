"""The event policies without Kafka: follow the event store's log, each event once, in order.

In server mode with Kafka the automation policies run in a consumer group
(workers/group_runner.py). Without Kafka — the embedded ``crm serve``, or
``crm worker automation`` with no ``CRM_KAFKA_BOOTSTRAP`` — this runner gives
them the same contract: every event handed to the handler at least once, in
log order, none skipped.

It follows the log with :class:`workers.log_follower.LogFollower` (LISTEN/NOTIFY
on PostgreSQL, polling on SQLite) from its saved position and saves the
position after each batch, and before it stops. A restart resumes after the
last saved event, so after a clean stop nothing is redone; after a crash at
most the batch in hand (up to ``BATCH`` events) is handled again, which the
policies recognise by their derived ids. A handler that fails stops the
runner's progress at that event: the position before it is saved, and the
event is tried again, with backoff, until it succeeds (never skipped).

**Where the position lives**: in the event store's own database, table
``crm_policy_positions`` (one row per runner name), like the relay's
``crm_relay_positions``. It is backed up with the events it refers to, works
on SQLite and PostgreSQL alike, and a runner started on any host resumes from
it. Saving it in the same transaction as the policy's own events would make the
effect exactly-once, but a policy's commands go through the application's
ordinary saves (one per task or move), and the derived ids already make
repeats harmless, so the simpler after-the-work save is enough.

A runner that has never run starts at the beginning of the log, as a new Kafka
consumer group does (``auto_offset_reset=earliest``): no event is missed
whatever order processes were started in. ``start="end"`` makes a runner that
has never run start after the newest event instead (an installation whose old
events should not be acted on now); once a position is saved it is ignored. Two runners with the same name
(say, two ``crm worker automation`` processes) both handle every event; that
is harmless but buys nothing except a warm standby, and the saved position
only ever moves forward.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from commands.application import Crm
from projections.envelope import Envelope, from_event
from workers.lifecycle import Backoff, Heartbeat
from workers.log_follower import LogFollower
from workers.logs import emit
from workers.projector import read_log
from workers.store_table import StoreTable

log = logging.getLogger("crm.policies")

TABLE = "crm_policy_positions"
BATCH = 100  # events between position saves: the most a crash can make the runner redo

Handler = Callable[[Envelope], None]


class PolicyPosition:
    """The last event a runner finished, in the event store's database (SQLite or PostgreSQL)."""

    def __init__(self, crm: Crm, runner: str) -> None:
        self.runner = runner
        self.table = StoreTable(crm, TABLE, "runner TEXT PRIMARY KEY, position BIGINT NOT NULL, "
                                            "updated_at TEXT NOT NULL")

    def load(self) -> int:
        """The notification id of the last event handled; 0 if the runner never ran."""
        saved = self.saved()
        return 0 if saved is None else saved

    def saved(self) -> int | None:
        """The saved position, or None if the runner never saved one."""
        with self.table.transaction(commit=False) as cursor:
            cursor.execute(self.table.sql(
                f"SELECT position FROM {self.table.name} WHERE runner = ?"),
                           (self.runner,))
            row = cursor.fetchone()
        return row["position"] if row else None

    def save(self, position: int) -> None:
        """Records ``position``; never moves it back (a slower twin runner cannot undo progress)."""
        with self.table.transaction(commit=True) as cursor:
            cursor.execute(self.table.sql(
                f"INSERT INTO {self.table.name} AS saved (runner, position, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (runner) DO UPDATE SET position = excluded.position, "
                "updated_at = excluded.updated_at WHERE saved.position < excluded.position"),
                (self.runner, position, datetime.now(timezone.utc).isoformat()))


class PolicyRunner:
    def __init__(self, crm: Crm, handle: Handler, name: str = "automation",
                 stopping: threading.Event | None = None, heartbeat: Heartbeat | None = None,
                 poll_interval: float = 0.5, start: str = "beginning") -> None:
        if start not in ("beginning", "end"):
            raise ValueError(f"start must be 'beginning' or 'end', not {start!r}")
        self.crm = crm
        self.handle = handle
        self.name = name
        self.stopping = stopping or threading.Event()
        self.heartbeat = heartbeat or Heartbeat(None)
        self.poll_interval = poll_interval
        self.saved = PolicyPosition(crm, name)
        if start == "end" and self.saved.saved() is None:  # never ran: the past is not news
            self.saved.save(crm.recorder.max_notification_id() or 0)
        self.position = self.saved.load()  # the last event handled
        self.handled = 0                   # events handled since start (for operators and tests)

    def run(self) -> None:
        """Handles events until ``stopping`` is set; a failure is logged and retried with backoff."""
        backoff = Backoff()
        emit(log, "policies.started", runner=self.name, position=self.position)
        while not self.stopping.is_set():
            try:
                self.session(backoff)
            except Exception as error:
                wait = backoff.next()
                emit(log, "policies.retry", logging.WARNING, runner=self.name, error=repr(error),
                     position=self.position, retry_in_s=wait)
                self.heartbeat.wait(self.stopping, wait)
        emit(log, "policies.stopped", runner=self.name, position=self.position,
             handled=self.handled)

    def session(self, backoff: Backoff) -> None:
        """Follows the log from the saved position until an error or ``stopping``."""
        self.position = self.saved.load()  # another runner of this name may have moved it on
        follower = LogFollower(self.crm, self.position, self.poll_interval)
        try:
            while not self.stopping.is_set():
                self.heartbeat.beat()
                batch = follower.next_batch(BATCH, wait=1.0)
                if batch:
                    self.handle_batch([from_event(self.crm.mapper.to_domain_event(n), n.id)
                                       for n in batch])
                    backoff.reset()
        finally:
            follower.close()

    def handle_batch(self, batch: list[Envelope]) -> None:
        """Hands each event of ``batch`` to the handler in log order, then saves the position.
        If the handler fails, what was handled before the failing event is saved first."""
        start = self.position
        try:
            for envelope in batch:
                if self.stopping.is_set():
                    break
                self.handle(envelope)
                self.position = envelope.position
                self.handled += 1
        finally:
            if self.position != start:
                self.saved.save(self.position)

    def run_until_idle(self) -> int:
        """For tests and one-shot runs: handles everything in the log now; returns how many."""
        before = self.handled
        while batch := read_log(self.crm, self.position, BATCH):
            self.handle_batch(batch)
        return self.handled - before
