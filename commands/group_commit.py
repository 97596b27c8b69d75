"""Group commit: the events of commands that arrive together share one transaction.

Each command is loaded, validated and decided on its own thread; only the
write is shared. One waiting command leads: it takes everything queued, writes
it in one transaction (one table lock, one fsync), wakes the others, and hands
the lead to the next queued command. With one client the leader writes at once,
so a lone command waits for nothing. If a shared write fails (say two commands
raced for the same aggregate version), each command of that group is written
on its own, so one conflict never fails the others. A command returns only
after its events are committed: durability is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, RecordConflictError

MAX_GROUP = 256  # events of at most this many commands in one transaction


class _Pending:
    __slots__ = ("events", "wake", "lead", "done", "error")

    def __init__(self, events: Sequence[Any]) -> None:
        self.events = events
        self.wake = threading.Event()
        self.lead = False
        self.done = False
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, write: Callable[[list[Any]], Any]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = False

    def commit(self, events: Sequence[Any]) -> None:
        """Blocks until ``events`` are committed; raises the store's error for this command only."""
        item = _Pending(events)
        with self._lock:
            self._queue.append(item)
            if not self._leading:
                self._leading = item.lead = True
        if not item.lead:
            item.wake.wait()
        if not item.done:  # promoted to lead: item is at the head of the queue
            self._lead()
        if item.error is not None:
            raise item.error

    def _lead(self) -> None:
        with self._lock:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        try:
            self._write_group(group)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].wake.set()
                else:
                    self._leading = False
            for item in group:
                item.done = True
                item.wake.set()

    def _write_group(self, group: list[_Pending]) -> None:
        try:
            self._write([event for item in group for event in item.events])
            return
        except (IntegrityError, RecordConflictError) as error:
            if len(group) == 1:
                group[0].error = error
                return
        except BaseException as error:  # e.g. the database is down: every command hears it
            for item in group:
                item.error = error
            return
        for item in group:  # one of them conflicted: find out which, alone
            try:
                self._write(list(item.events))
            except BaseException as error:
                item.error = error
