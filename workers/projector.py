"""The projector: applies batches of events to this node's read models.

A batch is applied in one DuckDB transaction together with the node's
position, so after any crash the read models and the position agree: each
event's effect lands exactly once. Redelivered events (a relay that published
twice, Kafka redelivering after a rebalance) are recognised by their aggregate
version and skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from uuid import UUID

from commands.application import Crm
from projections import PROJECTIONS
from projections.envelope import Envelope
from projections.interest import interest
from projections.stored import stored_envelopes
from readmodels.segment_membership import refresh as refresh_segments
from readmodels.store import ReadStore
from workers.aggregate_events import aggregate_envelopes
from workers.log_reader import batches, log_read
from workers.rebuild_changes import PROCESSES, Preparation, prepared_log

log = logging.getLogger("crm.projector")

BATCH_SIZE = 2000
# A catch-up further than FAR_BEHIND events from the head (a node's start, the offline
# command) takes batches of FAR_BATCH: a batch's statements cost mostly per statement,
# +5-16% events/s (docs/PERFORMANCE.md, "Larger batches for a catch-up far behind"); near
# the head BATCH_SIZE keeps the projector's lock and a consistency token's wait short.
FAR_BEHIND = 50_000
FAR_BATCH = 10_000
REBUILD_BATCH = 5000  # a rebuild writes one transaction per batch; readers are not waiting on it
TOP_UP_UNDER_LOCK = 200  # aggregates a rebuild may top up while the live projector waits
Progress = Callable[[int, int], None]


class Projector:
    def __init__(self, store: ReadStore, projections: dict = PROJECTIONS,
                 derived: tuple = (refresh_segments,)) -> None:
        self.store = store
        self.projections = projections
        # Read models the node derives from its own tables after each batch, in the same
        # transaction (segment membership): ``refresh(store, cursor, fresh_envelopes)``.
        self.derived = derived
        # Held while a batch is applied; a rebuild holds it to switch generations.
        self.lock = threading.Lock()
        # Projections being built anew because they are new or re-shaped: their live
        # tables are not fit to write to, so live batches leave them out until the switch.
        self.building: set[str] = set()

    def apply(self, batch: list[Envelope], position: int,
              also: Callable[[object], None] | None = None) -> int:
        """Applies the events not yet applied; records ``position``. Returns how many were new."""
        with self.lock, self.store.transaction() as cursor:
            known = self.store.applied_versions(cursor, {e.aggregate_id for e in batch})
            first = {e.aggregate_id for e in batch} - known.keys()
            fresh: list[Envelope] = []
            for envelope in batch:
                if envelope.version > known.get(envelope.aggregate_id, 0):
                    fresh.append(envelope)
                    known[envelope.aggregate_id] = envelope.version
            live = [name for name in self.projections if name not in self.building]
            types = {e.type for e in fresh}
            for name in live:
                module = self.projections[name]
                wanted = {t for t in types if interest(module).wants(t)}
                # Each projection sees the events it handles, in order (set columns: last one wins).
                events = fresh if wanted == types else [e for e in fresh if e.type in wanted]
                changes = [change for e in events for change in module.handle(e)]
                self.store.write(cursor, name, self.store.live_schema(name), changes)
            for refresh in self.derived:
                refresh(self.store, cursor, fresh)
            applied = {e.aggregate_id: e.version for e in fresh}
            self.store.record_applied(cursor, applied, first)
            newest = max((e.occurred_at for e in fresh), default=None)
            self.store.record_positions(cursor, live, position, len(fresh), newest)
            if also:
                also(cursor)
        self.store.note_applied(applied)
        return len(fresh)


def read_log(crm: Crm, after: int, limit: int = BATCH_SIZE) -> list[Envelope]:
    """The next events of the event store's notification log, as envelopes."""
    return stored_envelopes(crm.mapper).envelopes(log_read(crm)(after + 1, limit))


def catch_up(crm: Crm, projector: Projector, batch_size: int | None = None) -> int:
    """Applies everything in the log after the node's position; returns events applied.
    Without ``batch_size``, in batches of FAR_BATCH if far behind the head, else BATCH_SIZE."""
    total = 0
    position = projector.store.position(next(iter(projector.projections)))
    if batch_size is None:
        far = (crm.recorder.max_notification_id() or 0) - position > FAR_BEHIND
        batch_size = FAR_BATCH if far else BATCH_SIZE
    for batch in batches(log_read(crm), position, batch_size, stored_envelopes(crm.mapper).envelopes):
        total += projector.apply(batch, batch[-1].position)
    return total


def wait_for_head(crm: Crm, store: ReadStore, timeout: float, report_every: float = 2.0) -> bool:
    """Blocks until the node's read models reach the log's head as it is now; whether they did.

    A node serves only once this returns, so its first answers are not of read
    models still being projected (a customer list empty for the first seconds
    after ``crm serve --demo``, a restart behind by a night of events). The wait
    is bounded: after ``timeout`` the node serves anyway and says so, since
    stale reads beat none. With the event store down there is no head to wait
    for, and the node serves what it has.
    """
    try:
        head = crm.recorder.max_notification_id() or 0
    except Exception as error:
        log.warning("serving without waiting for the read models: no event store head (%s)", error)
        return False
    start = time.monotonic()
    report_at = start + report_every
    while (position := store.node_position()) < head:
        now = time.monotonic()
        if now > start + timeout:
            log.warning("serving before the read models caught up: at %d of %d after %.0f s",
                        position, head, timeout)
            return False
        if now > report_at:
            log.info("projecting the event store before serving: %d of %d", position, head)
            report_at = now + report_every
        time.sleep(0.05)
    return True


class LogTailer(threading.Thread):
    """Embedded mode: follows the local event store's log inside the service process."""

    def __init__(self, crm: Crm, projector: Projector) -> None:
        super().__init__(name="log-tailer", daemon=True)
        self.crm = crm
        self.projector = projector
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if not catch_up(self.crm, self.projector):
                    self.crm.wait_for_save(timeout=0.5)
            except Exception:  # keep serving; the position did not move, so nothing is lost
                log.exception("projecting from the log failed; retrying in 1 s")
                self.stopping.wait(1.0)

    def stop(self) -> None:
        self.stopping.set()
        self.crm.notify_saved()
        self.join(timeout=10)


def rebuild(crm: Crm, projector: Projector, name: str, progress: Progress | None = None) -> int:
    """Builds ``name`` anew beside the live tables from the event store, then switches to it."""
    return rebuild_many(crm, projector, [name], progress)


def rebuild_many(crm: Crm, projector: Projector, names: list[str],
                 progress: Progress | None = None, processes: int | None = None) -> int:
    """Builds ``names`` anew beside their live tables in one pass over the log, then switches.

    Exact for any feed. Whatever order the live tables received events in (log
    order when embedded, partition by partition through Kafka), they hold, per
    aggregate, exactly versions 1..applied_versions[aggregate]. The new
    generations are built to hold exactly that set:

    1. with the live projector running, the log is replayed from 0 and an event
       is taken only if it is the next version of its aggregate in the new
       generation and the live tables had already applied it (so the new
       generation never gets ahead of the live one);
    2. the aggregates the live tables moved further meanwhile are topped up from
       the event store by aggregate, first without the lock while many remain,
       then, with the live projector paused, the last few in the transaction
       that switches the views.

    Only events some of ``names`` handle become envelopes (projections/interest.py);
    the others just advance their aggregate's version. The envelopes and their
    changes are made while this thread writes: on a long log by ``processes``
    worker processes, else by the thread that reads the log a batch ahead
    (workers/rebuild_changes.py). By default workers prepare for the rebuild of
    one read model only: with several, writing them is most of the work and the
    workers' share of two cores cost more than they saved (docs/PERFORMANCE.md,
    "Preparing a rebuild in other processes"). Readers keep the live generations
    until the switch. Returns the log position read to.
    """
    if processes is None:
        processes = PROCESSES if len(names) == 1 else 0
    store = projector.store
    preparation = Preparation(crm.mapper, [projector.projections[name] for name in names])
    schemas = {name: store.prepare_generation(name) for name in names}  # name -> (generation, schema)
    # Per aggregate, by its id as an int (below), the newest version in the new generations.
    built: dict[int, int] = {}
    position, total = 0, crm.recorder.max_notification_id() or 0
    # What the live tables applied: a snapshot, asked again for aggregates the log is ahead of.
    live = _by_int(store.all_applied_versions(store.reader()))

    def behind(live: dict[int, int]) -> list[tuple[UUID, int, int]]:
        return [(UUID(int=aggregate), built.get(aggregate, 0), version)
                for aggregate, version in live.items() if version > built.get(aggregate, 0)]

    def write(cursor, changes: tuple[list, ...]) -> None:
        for name, theirs in zip(names, changes):
            store.write(cursor, name, schemas[name][1], theirs)

    def top_up(cursor, lagging: list[tuple[UUID, int, int]]) -> None:
        for aggregate, after, upto in lagging:
            write(cursor, preparation.changes(aggregate_envelopes(crm, aggregate, after, upto)))
            built[aggregate.int] = upto

    for events in prepared_log(crm, preparation, REBUILD_BATCH, processes):
        ahead = {aggregate for aggregate, version, *_ in events if version > live.get(aggregate, 0)}
        if ahead:
            live.update(_by_int(store.applied_versions(store.reader(),
                                                       [UUID(int=a) for a in ahead])))
        taken: tuple[list, ...] = tuple([] for _ in names)
        for aggregate, version, _, changes in events:  # 1: the bulk, from the log
            if version == built.get(aggregate, 0) + 1 and version <= live.get(aggregate, 0):
                built[aggregate] = version
                if changes is not None:
                    for into, more in zip(taken, changes):
                        into += more
        with store.transaction() as cursor:
            write(cursor, taken)
        position = events[-1][2]
        if progress:
            progress(position, max(total, position))
    for _ in range(3):  # 2a: the stragglers, still without pausing the live node
        lagging = behind(_by_int(store.all_applied_versions(store.reader())))
        if len(lagging) <= TOP_UP_UNDER_LOCK:
            break
        with store.transaction() as cursor:
            top_up(cursor, lagging)
    with projector.lock, store.transaction() as cursor:  # 2b: the last few, then switch
        lagging = behind(_by_int(store.all_applied_versions(cursor)))
        top_up(cursor, lagging)
        for name in names:
            store.switch_generation(cursor, name, schemas[name][0])
        new = [name for name in names if name in projector.building]
        if new:  # built from scratch: now live, at the node's position
            store.record_positions(cursor, new, store.node_position(cursor), 0, None)
            projector.building.difference_update(new)
    log.info("rebuilt %s up to position %s (%s aggregates topped up at the switch)",
             ", ".join(f"{name} as generation {schemas[name][0]}" for name in names), position,
             len(lagging))
    return position


def _by_int(versions: dict[UUID, int]) -> dict[int, int]:
    """``versions`` keyed by each id's int. A rebuild keeps a version for every aggregate in
    the store, twice (built and live); with UUID keys those are millions of objects that each
    full pass of the collector walks: a quarter of a rebuild's time at 100k customers
    (docs/PERFORMANCE.md, "The collector and a rebuild's bookkeeping"). A dict of ints is not
    tracked at all."""
    return {aggregate.int: version for aggregate, version in versions.items()}


def applied_version(store: ReadStore, aggregate_id: UUID) -> int:
    cursor = store.reader()
    return store.applied_versions(cursor, [aggregate_id]).get(aggregate_id, 0)
