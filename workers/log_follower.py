"""Follows the event store's notification log after a position, in batches.

On PostgreSQL the library's subscription LISTENs for the NOTIFY every insert
sends, so a new event is seen at once without querying in a loop. A
subscription can fail (the connection drops, a pooler in transaction mode
does not pass LISTEN through); then the follower polls from where it got to
and tries to subscribe again later. SQLite has no notifications: it polls.
Either way the caller sees the same thing: the next notifications, in log
order, none skipped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence

from eventsourcing.persistence import Notification

from commands.application import Crm
from workers.logs import emit

log = logging.getLogger("crm.relay")

RELISTEN_AFTER = 30.0  # seconds of polling before trying LISTEN/NOTIFY again


class LogFollower:
    def __init__(self, crm: Crm, after: int, poll_interval: float = 0.5) -> None:
        self.crm = crm
        self.position = after          # the last notification id handed out
        self.poll_interval = poll_interval
        self._listening = crm.on_postgres
        self._poll_until = 0.0
        self._subscription = None
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue[Notification] = queue.Queue(maxsize=5000)
        self._failed: BaseException | None = None
        self._closed = threading.Event()

    # -- the one method callers use --------------------------------------------------------

    def next_batch(self, limit: int, wait: float) -> Sequence[Notification]:
        """Up to ``limit`` notifications after the last batch; waits up to ``wait`` s for the first."""
        if self._listening and self._subscription is None and time.monotonic() >= self._poll_until:
            self._subscribe()
        if self._subscription is not None:
            batch = self._drain(limit, wait)
            if batch or self._failed is None:
                return self._handed_out(batch)
            self._fall_back_to_polling()
        batch = self.crm.recorder.select_notifications(start=self.position + 1, limit=limit)
        if not batch:
            self._closed.wait(min(wait, self.poll_interval))
        return self._handed_out(batch)

    def close(self) -> None:
        self._closed.set()
        self._stop_subscription()

    # -- LISTEN/NOTIFY through the library's subscription -----------------------------------

    def _subscribe(self) -> None:
        self._queue = queue.Queue(maxsize=5000)
        self._failed = None
        self._subscription = self.crm.recorder.subscribe(gt=self.position)
        self._thread = threading.Thread(target=self._pump, args=(self._subscription, self._queue),
                                        name="log-subscription", daemon=True)
        self._thread.start()

    def _pump(self, subscription, into: queue.Queue) -> None:
        try:
            for notification in subscription:
                while not self._closed.is_set():
                    try:
                        into.put(notification, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if self._closed.is_set():
                    return
        except BaseException as error:  # reported to the caller's thread by next_batch
            self._failed = error
        else:
            if not self._closed.is_set():
                self._failed = RuntimeError("the subscription ended")

    def _drain(self, limit: int, wait: float) -> list[Notification]:
        batch: list[Notification] = []
        try:
            batch.append(self._queue.get(timeout=wait))
            while len(batch) < limit:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return batch

    def _fall_back_to_polling(self) -> None:
        emit(log, "log.listen_failed", logging.WARNING, error=repr(self._failed),
             fallback="polling", relisten_in_s=RELISTEN_AFTER)
        self._stop_subscription()
        self._poll_until = time.monotonic() + RELISTEN_AFTER

    def _stop_subscription(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.stop()
            if self._thread is not None:
                self._thread.join(timeout=5)

    def _handed_out(self, batch: Sequence[Notification]) -> Sequence[Notification]:
        if batch:
            self.position = batch[-1].id
        return batch
