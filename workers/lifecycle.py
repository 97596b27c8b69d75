"""How a worker process starts, stops and shows it is alive.

SIGTERM (what Docker, systemd and Kubernetes send) and SIGINT set one event
that every loop checks between units of work, so a worker finishes or
abandons its current batch cleanly instead of dying mid-write. A heartbeat
file whose modification time the loops refresh lets a container health check
tell a live worker from a hung one without an HTTP port.
"""

from __future__ import annotations

import gc
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def freeze_start_up() -> None:
    """Marks the end of a process's building. What it made so far (modules, routes, clients,
    pydantic's validators) lives as long as the process; frozen, the collector's full passes
    no longer walk it. Unfrozen, each pass stopped every thread for ~40 ms in a worker and
    130-300 ms in a serving node (docs/PERFORMANCE.md, "Pauses"), and the passes took a fifth
    of a serving node's start-up catch-up, so a node freezes before catching up. Start-up's
    own garbage is small, so it is not collected first (that would be one more such pause)."""
    gc.freeze()


@contextmanager
def frozen() -> Iterator[None]:
    """:func:`freeze_start_up` for work inside a process that goes on after it (a node's app
    in the tests, the offline ``crm projections rebuild`` run by the tests' CLI runner): what
    it froze is collectable again once the work ends, however it ends."""
    freeze_start_up()
    try:
        yield
    finally:
        gc.unfreeze()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (call from the main thread)."""
    stopping = threading.Event()

    def handle(signum, frame) -> None:  # noqa: ARG001 - the signal API's signature
        stopping.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stopping


class Heartbeat:
    """Touches ``path`` at most once per ``every`` seconds; health checks read its age."""

    def __init__(self, path: Path | None, every: float = 2.0) -> None:
        self.path = path
        self.every = every
        self._last = 0.0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def beat(self) -> None:
        now = time.monotonic()
        if self.path is not None and now - self._last >= self.every:
            self.path.touch()
            self._last = now

    def wait(self, stopping: threading.Event, seconds: float) -> None:
        """Waits like ``stopping.wait(seconds)``, still beating: retrying is being alive."""
        deadline = time.monotonic() + seconds
        while not stopping.is_set() and (left := deadline - time.monotonic()) > 0:
            self.beat()
            stopping.wait(min(left, self.every))


class Backoff:
    """Exponential waits between retries (0.5 s doubling up to ``cap``), reset after a success."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first, self.cap, self.current = first, cap, first

    def next(self) -> float:
        wait, self.current = self.current, min(self.current * 2, self.cap)
        return wait

    def reset(self) -> None:
        self.current = self.first
