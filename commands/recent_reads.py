"""Recent reads: a tenant's settings that commands read but do not change, read once a second.

Registering a customer validates its custom fields against the tenant's definitions, and that
read of the store (a SELECT and its decoding, even when the tenant has none) was a quarter of a
registration's CPU on a loaded command node (docs/PERFORMANCE.md, "Recent reads"). Definitions
change rarely, so a copy read a moment ago serves; the callers decide a refusal again on the
current definitions (``custom_fields.decided``), so a copy can only let through what the
current definitions would refuse, and only for ``max_age_s`` after another process changed them:
as if the command had come that moment earlier. This process's own saves are seen at once
(``forget``).

The copies are shared between threads: callers read them and never change them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

# Long enough that a busy node reads a tenant's definitions about once a second, short enough
# that another node's change is in force here before anyone could act on having made it.
MAX_AGE_S = 1.0


class RecentReads:
    def __init__(self, read: Callable[[UUID], Any], max_age_s: float = MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self.max_age_s = max_age_s
        self._clock = clock
        self._copies: dict[UUID, tuple[float, Any]] = {}
        self._asked: set[UUID] = set()  # every id ever read here: a few per tenant
        self._generation = 0  # counts forgets: a read that began before one is not kept
        self._lock = threading.Lock()

    def get(self, aggregate_id: UUID) -> Any:
        """What ``read`` gave for ``aggregate_id`` at most ``max_age_s`` ago, or reads it now."""
        now = self._clock()
        copy = self._copies.get(aggregate_id)
        if copy is not None and now - copy[0] < self.max_age_s:
            return copy[1]
        with self._lock:
            self._asked.add(aggregate_id)
            generation = self._generation
        value = self._read(aggregate_id)
        with self._lock:
            if generation == self._generation:
                self._copies[aggregate_id] = (now, value)
        return value

    def forget(self, aggregate_ids: Iterable[UUID]) -> None:
        """This process has just saved these: the next ``get`` of any of them reads the store.

        Called after every save, so it only looks the ids up unless one was ever read here."""
        changed = [i for i in aggregate_ids if i in self._asked]
        if changed:
            with self._lock:
                self._generation += 1
                for aggregate_id in changed:
                    self._copies.pop(aggregate_id, None)
