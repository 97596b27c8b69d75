"""Reading the notification log in batches, the next batch fetched while this one is worked on.

A rebuild or a catch-up alternates between waiting for PostgreSQL (the query,
the rows over the socket) and applying a batch to DuckDB, each of which leaves
the interpreter free most of the time. Asking for batch n+1 from a thread while
batch n is applied overlaps the two, on a machine where the database server
has a core of its own (docs/PERFORMANCE.md, "Reading ahead").

Only a full batch is followed by a read ahead: a short one means the log's head
was reached, so a node following the head (the embedded tailer, called on every
save) never starts a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from eventsourcing.persistence import ApplicationRecorder, Notification

T = TypeVar("T")


def batches(recorder: ApplicationRecorder, after: int, limit: int,
            convert: Callable[[list[Notification]], T] = list) -> Iterator[T]:
    """``convert`` of each batch of up to ``limit`` notifications after position ``after``,
    until the log's head; the next batch is read (and converted) while the caller holds this one.

    Positions continue from the last notification of each batch, so what is yielded
    equals reading batch after batch in the caller's thread.
    """
    def read(start: int) -> tuple[T, int, int]:
        notifications = recorder.select_notifications(start=start, limit=limit)
        last = notifications[-1].id if notifications else start - 1
        return convert(notifications), len(notifications), last

    batch, count, last = read(after + 1)
    if count < limit:  # at the head: no thread
        if count:
            yield batch
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-read-ahead") as pool:
        while count:
            ahead = pool.submit(read, last + 1) if count == limit else None
            yield batch
            if ahead is None:
                return
            batch, count, last = ahead.result()
