"""Unconditional commands on one aggregate take turns within a process.

Without turns, n requests for one busy customer (an import and a storefront
writing the same orders, a burst of notes) all load the same version, one wins
the save, and the other n-1 decide again: n rounds of wasted loads, and under a
loaded machine the unlucky ones ran out of their retry time (409s in CI). With
turns the second request loads only after the first has saved, so within one
process they never collide; across processes the store's version check and the
retry in :meth:`commands.application.Crm.change` still decide.

A turn is waited for at most ``timeout`` seconds; after that the command goes
ahead without it (and may lose a race, which the retry handles). So a command
whose decision started a command on another aggregate can never deadlock with
one doing the reverse.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID


class AggregateTurns:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        # aggregate id -> [its lock, how many hold or wait for it]; dropped at zero, so
        # the map holds only aggregates someone is writing right now
        self._turns: dict[UUID, list] = {}

    @contextmanager
    def turn(self, aggregate_id: UUID, timeout: float) -> Iterator[bool]:
        """Holds ``aggregate_id``'s turn; yields whether it was got within ``timeout``."""
        with self._guard:
            entry = self._turns.setdefault(aggregate_id, [threading.RLock(), 0])
            entry[1] += 1
        got = entry[0].acquire(timeout=timeout)
        try:
            yield got
        finally:
            if got:
                entry[0].release()
            with self._guard:
                entry[1] -= 1
                if not entry[1]:
                    del self._turns[aggregate_id]

    def __len__(self) -> int:
        """Aggregates held or waited for now (zero when the process is idle)."""
        return len(self._turns)
