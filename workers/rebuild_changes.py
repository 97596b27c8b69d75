"""A rebuild's events as the changes of the read models it builds, made in other processes.

A rebuild is interpreter-bound: its reading thread and its writing thread share
one interpreter and used ~1.1 cores on the medium shop (docs/PERFORMANCE.md,
"Reading the log as tuples"). Most of its CPU is not DuckDB's: in one thread,
the timeline's 192,871 events of a small shop took 0.9 s to read, 1.9 s to
become envelopes and 0.6 s for the projection's ``handle``, against 1.5 s to
write (docs/PERFORMANCE.md, "Preparing a rebuild in other processes"). None of
the first three needs the read models, so on a long log, worker processes do
them, each for its own range of the log's positions, and hand back each event's
changes; the rebuilding process only chooses the events it takes and writes.
``workers.projector.rebuild_many`` asks for workers when it rebuilds one read
model: with several, writing is most of the work and the workers' CPU competes
with it.

Each event becomes a :data:`Prepared`: its aggregate (an int: see
``workers.projector._by_int``), version, log position and, if a read model being
built handles it, that read model's changes, one list per read model. The same
:class:`Preparation` runs in the read-ahead thread (workers/log_reader.py) for
a short log, where starting processes (~1 s each: they import the service)
would cost more than they save, on SQLite, and for the events appended after
the processes' ranges were handed out.

Workers are spawned, not forked (the rebuilding process runs threads), so a
program that rebuilds must guard its main module (``if __name__ == "__main__"``),
as ``crm`` does (a package's ``__main__`` run with ``-m``, like the benchmark's,
is not imported again by a spawned process).
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from types import ModuleType
from typing import TYPE_CHECKING, Optional
from urllib.parse import parse_qsl, urlencode, urlparse
from uuid import UUID

from commands.application import Crm
from projections.envelope import Envelope
from projections.interest import interest
from projections.stored import stored_envelopes
from readmodels.changes import Change
from workers.log_reader import Read, batches, log_read

if TYPE_CHECKING:
    from eventsourcing.persistence import Mapper

# (aggregate as an int, version, position, per read model its changes or None if none handles it)
Prepared = tuple[int, int, int, Optional[tuple[list[Change], ...]]]

PROCESSES = 2  # one per core here: the rebuilding process writes while they prepare
PROCESSES_FROM = 200_000  # events in the log; fewer are prepared by the read-ahead thread


class Preparation:
    """Turns notifications into :data:`Prepared` for the read models of ``modules``."""

    def __init__(self, mapper: Mapper, modules: list[ModuleType]) -> None:
        self.stored = stored_envelopes(mapper)
        self.modules = modules
        self.wants = [interest(module).wants for module in modules]
        self.by_topic: dict[str, tuple[bool, ...] | None] = {}  # topic -> who handles it

    def changes(self, envelopes: Iterable[Envelope]) -> tuple[list[Change], ...]:
        """Each read model's changes for ``envelopes``, in their order."""
        envelopes = list(envelopes)
        return tuple([change for e in envelopes if wants(e.type) for change in module.handle(e)]
                     for module, wants in zip(self.modules, self.wants))

    def __call__(self, notifications) -> list[Prepared]:
        prepared = []
        for n in notifications:
            handlers = self.by_topic.get(n.topic, False)
            if handlers is False:
                type_name = self.stored.type_name(n.topic)
                handlers = tuple(wants(type_name) for wants in self.wants)
                handlers = self.by_topic[n.topic] = handlers if any(handlers) else None
            changes = None
            if handlers is not None:
                envelope = self.stored.envelope(n)
                changes = tuple(module.handle(envelope) if handles else []
                                for module, handles in zip(self.modules, handlers))
            prepared.append((_uuid(n.originator_id).int, n.originator_version, n.id, changes))
        return prepared


def prepared_log(crm: Crm, preparation: Preparation, batch: int,
                 processes: int) -> Iterator[list[Prepared]]:
    """The whole log, in order, as batches of up to ``batch`` :data:`Prepared` events.

    With ``processes`` and a log of PROCESSES_FROM events or more on PostgreSQL,
    the positions up to the head as it is now are prepared by that many worker
    processes (the read models' modules must be importable by name), the rest by
    the read-ahead thread."""
    after = 0
    if processes and crm.on_postgres and _importable(preparation.modules):
        head = crm.recorder.max_notification_id() or 0
        if head >= PROCESSES_FROM:
            yield from _in_processes(crm.event_store_url, preparation.modules, head, batch, processes)
            after = head
    yield from batches(log_read(crm), after, batch, preparation)


def _in_processes(url: str, modules: list[ModuleType], head: int, batch: int,
                  processes: int) -> Iterator[list[Prepared]]:
    """Positions 1..``head`` in ranges of ``batch``, each prepared by a worker, yielded in order;
    two ranges per worker are asked for ahead. A worker's error is raised here."""
    spawn = multiprocessing.get_context("spawn")  # not fork: this process runs threads
    with ProcessPoolExecutor(processes, mp_context=spawn, initializer=_start_worker,
                             initargs=(url, [module.__name__ for module in modules])) as pool:
        pending: deque = deque()
        try:
            for first in range(1, head + 1, batch):
                pending.append(pool.submit(_prepare_range, first, min(first + batch - 1, head)))
                if len(pending) > 2 * processes:
                    prepared = pending.popleft().result()
                    if prepared:  # a range may hold no events: positions can skip
                        yield prepared
            while pending:
                prepared = pending.popleft().result()
                if prepared:
                    yield prepared
        finally:  # an error, or the caller stopped early: nothing more to prepare
            for future in pending:
                future.cancel()


_worker: tuple[Read, Preparation] | None = None  # a worker process's reader and preparation


def _start_worker(url: str, module_names: list[str]) -> None:
    global _worker
    # A worker only reads: it must not create the events table (the library's default on
    # start), and reads one range at a time.
    os.environ["CREATE_TABLE"] = "no"
    parsed = urlparse(url)
    query = {**dict(parse_qsl(parsed.query)), "pool_size": "1", "max_overflow": "0"}
    crm = Crm(parsed._replace(query=urlencode(query)).geturl(), group_commit=False)
    _worker = (log_read(crm), Preparation(crm.mapper, [importlib.import_module(name)
                                                      for name in module_names]))
    gc.freeze()  # what the worker keeps is not walked by every collection of a batch's garbage
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()


def _exit_with_parent() -> None:
    """A worker waits for its next range forever: if the rebuilding process is killed
    (SIGKILL, the OOM killer) nothing would end the worker, which holds its memory and a
    PostgreSQL connection. It ends when its parent does."""
    multiprocessing.connection.wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


def _prepare_range(first: int, last: int) -> list[Prepared]:
    read, preparation = _worker
    return preparation(read(first, last - first + 1, last))


def _importable(modules: list[ModuleType]) -> bool:
    try:
        return all(importlib.import_module(module.__name__) is module for module in modules)
    except ImportError:
        return False


def _uuid(originator_id) -> UUID:
    return originator_id if type(originator_id) is UUID else UUID(str(originator_id))
